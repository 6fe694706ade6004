/**
 * npm run bench:ingest — sustained events/s through HTTP, 1,000-event batches of llm.usage, against
 * a real `tollgate serve` process on PGlite and on PostgreSQL, each next to its floor: the same
 * load against a bare process that parses the batch and (PostgreSQL) stores it with one plain
 * INSERT (bench/ingest-floor.mjs). The ratio to the floor is what to compare between runs on a
 * shared machine; the floor takes turns with Tollgate (--rounds, default 2), so a slow spell
 * falls on both.
 * Flags: --seconds N (default 15 per store, split over the rounds), --concurrency N (default 4),
 *        --rounds N, --only pglite|postgres
 */
import { spawn } from 'node:child_process';
import { Pool } from 'undici';
import { BENCH_KEY, freshPostgresDatabase, startServer, tollgateNodeFlags } from './lib.ts';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const SECONDS = Number(args.get('seconds') ?? 15);
const CONCURRENCY = Number(args.get('concurrency') ?? 4);
const BATCH = 1000;
const only = args.get('only');
const ROUNDS = Math.max(1, Number(args.get('rounds') ?? 2));

const MODELS = ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4-5', 'claude-haiku-4-5', 'gemini-2.5-pro'];
const PROVIDERS = ['openai', 'openai', 'anthropic', 'anthropic', 'google'];

let counter = 0;
function batchBody(): string {
  const run = counter++;
  const parts: string[] = [];
  const t = Date.UTC(2026, 0, 1) + run * 1000;
  for (let i = 0; i < BATCH; i++) {
    const m = (run + i) % MODELS.length;
    parts.push(
      `{"specversion":"1.0","id":"b${run}-${i}","source":"bench","type":"llm.usage","time":"${new Date(t + i).toISOString()}","subject":"user-${i % 1000}",` +
        `"data":{"provider":"${PROVIDERS[m]}","model":"${MODELS[m]}","input_tokens":${100 + i},"output_tokens":${50 + (i % 200)},"cache_read_tokens":${i % 7},"team":"team-${i % 10}","feature":"chat"}}`,
    );
  }
  return '[' + parts.join(',') + ']';
}

/** Sends batches to `url` for `seconds`; returns events and seconds. */
async function load(url: string, seconds: number, warmup: boolean): Promise<{ events: number; secs: number }> {
  const pool = new Pool(url, { connections: CONCURRENCY, pipelining: 1 });
  const send = async () => {
    const body = batchBody();
    const r = await pool.request({ path: '/v1/events', method: 'POST', headers: { 'content-type': 'application/cloudevents-batch+json', authorization: `Bearer ${BENCH_KEY}` }, body });
    const text = await r.body.text();
    if (r.statusCode !== 202) throw new Error(`${r.statusCode}: ${text.slice(0, 300)}`);
    const j = JSON.parse(text);
    if (j.accepted !== BATCH) throw new Error(`accepted ${j.accepted} of ${BATCH}`);
  };
  // Warm up: JIT, plans, connection pools.
  if (warmup) for (let i = 0; i < 5; i++) await send();
  let events = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        await send();
        events += BATCH;
      }
    }),
  );
  const secs = (performance.now() - start) / 1000;
  await pool.close();
  return { events, secs };
}

async function startFloor(dbUrl: string): Promise<{ url: string; stop(): Promise<void> }> {
  const proc = spawn(process.execPath, [...tollgateNodeFlags(), new URL('./ingest-floor.mjs', import.meta.url).pathname, dbUrl], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port: string = await new Promise((ok) => proc.stdout!.once('data', (d: Buffer) => ok(String(d).trim())));
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
    },
  };
}

/** Tollgate and its floor take turns, ROUNDS times; prints both rates and their ratio. */
async function run(label: string, url: string, floorUrl: string) {
  const t = { events: 0, secs: 0 };
  const f = { events: 0, secs: 0 };
  for (let r = 0; r < ROUNDS; r++) {
    const a = await load(url, SECONDS / ROUNDS, r === 0);
    const b = await load(floorUrl, SECONDS / ROUNDS, r === 0);
    t.events += a.events;
    t.secs += a.secs;
    f.events += b.events;
    f.secs += b.secs;
  }
  const rate = Math.round(t.events / t.secs);
  const floor = Math.round(f.events / f.secs);
  console.log(
    `${label.padEnd(11)} ${rate.toLocaleString('en-US').padStart(9)} events/s  (${t.events.toLocaleString('en-US')} events in ${t.secs.toFixed(1)} s, ${CONCURRENCY} concurrent 1,000-event batches)` +
      `  floor ${floor.toLocaleString('en-US')} events/s  ratio ${(rate / floor).toFixed(3)}`,
  );
  return rate;
}

console.log(`bench:ingest — POST /v1/events, llm.usage, ${BATCH}-event batches, ${SECONDS} s per store in ${ROUNDS} turns beside its floor`);
if (only !== 'postgres') {
  const s = await startServer({});
  const floor = await startFloor('');
  try {
    await run('PGlite', s.url, floor.url);
  } finally {
    await floor.stop();
    await s.stop();
  }
}
if (only !== 'pglite') {
  const db = await freshPostgresDatabase('tollgate_bench_ingest');
  const s = await startServer({ DATABASE_URL: db.url });
  const floor = await startFloor(db.url);
  try {
    await run('PostgreSQL', s.url, floor.url);
  } finally {
    await floor.stop();
    await s.stop();
    await db.drop();
  }
}
