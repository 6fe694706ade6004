/**
 * npm run bench:ingest — sustained events/s through HTTP, 1,000-event batches of llm.usage, against
 * a real `tollgate serve` process on PGlite and on PostgreSQL.
 * Flags: --seconds N (default 15), --concurrency N (default 4), --only pglite|postgres
 */
import { Pool } from 'undici';
import { BENCH_KEY, freshPostgresDatabase, startServer } from './lib.ts';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const SECONDS = Number(args.get('seconds') ?? 15);
const CONCURRENCY = Number(args.get('concurrency') ?? 4);
const BATCH = 1000;
const only = args.get('only');

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

async function run(label: string, url: string) {
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
  for (let i = 0; i < 5; i++) await send();
  let events = 0;
  const start = performance.now();
  const end = start + SECONDS * 1000;
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
  const rate = Math.round(events / secs);
  console.log(`${label.padEnd(11)} ${rate.toLocaleString('en-US').padStart(9)} events/s  (${events.toLocaleString('en-US')} events in ${secs.toFixed(1)} s, ${CONCURRENCY} concurrent 1,000-event batches)`);
  return rate;
}

console.log(`bench:ingest — POST /v1/events, llm.usage, ${BATCH}-event batches, ${SECONDS} s per store`);
if (only !== 'postgres') {
  const s = await startServer({});
  try {
    await run('PGlite', s.url);
  } finally {
    await s.stop();
  }
}
if (only !== 'pglite') {
  const db = await freshPostgresDatabase('tollgate_bench_ingest');
  const s = await startServer({ DATABASE_URL: db.url });
  try {
    await run('PostgreSQL', s.url);
  } finally {
    await s.stop();
    await db.drop();
  }
}
