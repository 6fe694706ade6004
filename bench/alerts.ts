/**
 * npm run bench:alerts — what 1,000 active alert rules cost ingest: HTTP ingest of 1,000-event
 * llm.usage batches (as bench:ingest) against one `tollgate serve`, in alternating rounds without
 * rules (the floor) and with 1,000 rules (500 entitlement.level, 400 per-subject daily USD budgets,
 * 50 per-team token budgets, 30 forecasts, 20 anomaly/collector rules). Prints both rates, the
 * throughput lost and the evaluation cost per batch that implies. Target: ≤ 5 % lost.
 * Flags: --seconds N per round (default 8), --rounds N pairs (default 3), --concurrency N (4),
 * --only pglite|postgres (default postgres).
 */
import { Pool } from 'undici';
import { BENCH_KEY, freshPostgresDatabase, startServer } from './lib.ts';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const SECONDS = Number(args.get('seconds') ?? 8);
const ROUNDS = Number(args.get('rounds') ?? 3);
const CONCURRENCY = Number(args.get('concurrency') ?? 4);
const STORE = args.get('only') ?? 'postgres';
const BATCH = 1000;
const MODELS = ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4-5', 'claude-haiku-4-5', 'gemini-2.5-pro'];
const PROVIDERS = ['openai', 'openai', 'anthropic', 'anthropic', 'google'];

let counter = 0;
function batchBody(): string {
  const run = counter++;
  const parts: string[] = [];
  const t = Date.now() - 60_000;
  for (let i = 0; i < BATCH; i++) {
    const m = (run + i) % MODELS.length;
    parts.push(
      `{"specversion":"1.0","id":"b${run}-${i}","source":"bench","type":"llm.usage","time":"${new Date(t + i).toISOString()}","subject":"user-${i % 1000}",` +
        `"data":{"provider":"${PROVIDERS[m]}","model":"${MODELS[m]}","input_tokens":${100 + i},"output_tokens":${50 + (i % 200)},"team":"team-${i % 10}","feature":"chat"}}`,
    );
  }
  return '[' + parts.join(',') + ']';
}

function ruleBodies(): unknown[] {
  const inApp = [{ type: 'in_app' }];
  const out: unknown[] = [];
  for (let i = 0; i < 500; i++) out.push({ name: `level ${i}`, on: 'entitlement.level', filter: { subject: `user-${i}` }, channels: inApp });
  for (let i = 0; i < 400; i++) out.push({ name: `budget user-${i}`, on: 'budget.amount', filter: { subject: `user-${i}` }, condition: { meter: 'llm_cost', amount: '1000000', period: 'day', thresholds: [0.5, 0.8, 1] }, channels: inApp });
  for (let i = 0; i < 50; i++) out.push({ name: `tokens team-${i % 10} #${i}`, on: 'budget.amount', filter: { team: `team-${i % 10}` }, condition: { meter: 'llm_tokens', amount: String(1e12 + i), period: 'month' }, channels: inApp });
  for (let i = 0; i < 30; i++) out.push({ name: `forecast ${i}`, on: 'forecast.exceeds', filter: { subject: `user-${i}` }, channels: inApp });
  for (let i = 0; i < 20; i++) out.push({ name: `ops ${i}`, on: i % 2 ? 'anomaly' : 'collector.failure', channels: inApp });
  return out;
}

async function main() {
  let pgDb: { url: string; drop(): Promise<void> } | undefined;
  if (STORE === 'postgres') pgDb = await freshPostgresDatabase('tollgate_bench_alerts');
  const s = await startServer(pgDb ? { DATABASE_URL: pgDb.url } : {});
  const pool = new Pool(s.url, { connections: CONCURRENCY + 2, pipelining: 1 });
  const call = async (method: string, path: string, body?: unknown) => {
    const r = await pool.request({ path, method: method as 'GET', headers: { 'content-type': 'application/json', authorization: `Bearer ${BENCH_KEY}` }, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
    const text = await r.body.text();
    if (r.statusCode >= 300) throw new Error(`${method} ${path}: ${r.statusCode} ${text.slice(0, 300)}`);
    return text ? JSON.parse(text) : null;
  };
  const send = () => call('POST', '/v1/events', batchBody());
  async function round(): Promise<number> {
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
    return events / ((performance.now() - start) / 1000);
  }
  let ids: string[] = [];
  const addRules = async () => {
    ids = [];
    const bodies = ruleBodies();
    for (let i = 0; i < bodies.length; i += 20) ids.push(...(await Promise.all(bodies.slice(i, i + 20).map((b) => call('POST', '/v1/alerts/rules', b)))).map((r) => r.id as string));
  };
  const removeRules = async () => {
    for (let i = 0; i < ids.length; i += 20) await Promise.all(ids.slice(i, i + 20).map((id) => call('DELETE', `/v1/alerts/rules/${id}`)));
    ids = [];
  };
  try {
    console.log(`bench:alerts — ${STORE}, ${BATCH}-event batches, ${CONCURRENCY} concurrent, ${ROUNDS} × (${SECONDS} s without rules, ${SECONDS} s with 1,000 rules)`);
    for (let i = 0; i < 5; i++) await send(); // warm up
    const floor: number[] = [];
    const withRules: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      floor.push(await round());
      await addRules();
      await new Promise((res) => setTimeout(res, 6000)); // let every process's rule cache see them
      withRules.push(await round());
      await removeRules();
      await new Promise((res) => setTimeout(res, 6000));
      console.log(`  round ${r + 1}: floor ${Math.round(floor[r]!).toLocaleString('en-US')} events/s, with 1,000 rules ${Math.round(withRules[r]!).toLocaleString('en-US')} events/s`);
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const a = med(floor);
    const b = med(withRules);
    const lost = (1 - b / a) * 100;
    const perBatchMs = (BATCH / b - BATCH / a) * 1000;
    const h = await call('GET', '/v1/alerts/history?limit=1000');
    console.log(`floor (no rules)     ${Math.round(a).toLocaleString('en-US').padStart(9)} events/s (median of ${ROUNDS})`);
    console.log(`with 1,000 rules     ${Math.round(b).toLocaleString('en-US').padStart(9)} events/s`);
    console.log(`throughput lost      ${lost.toFixed(1)} % (target ≤ 5 %)  →  rule evaluation ≈ ${Math.max(perBatchMs, 0).toFixed(2)} ms per 1,000-event batch; firings during the run: ${h.data.length}`);
  } finally {
    await pool.close();
    await s.stop();
    await pgDb?.drop();
  }
}

await main();
