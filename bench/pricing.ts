/**
 * npm run bench:pricing — priced events per second on one core, through the same synchronous
 * path the ingest enrich hook uses (resolution cache warm, as it is in a running server).
 */
import { loadCatalog } from '../src/pricing/catalog/index.ts';
import { createEngine } from '../src/pricing/engine.ts';
import type { EventRow } from '../src/events/types.ts';

const N = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const engine = createEngine({ catalog: loadCatalog() });

const models: Array<[string, string, string | null]> = [
  ['openai', 'gpt-4o-2024-08-06', null],
  ['openai', 'gpt-4o-mini', null],
  ['openai', 'o3', null],
  ['anthropic', 'claude-sonnet-4-20250514', null],
  ['anthropic', 'claude-3-5-haiku-20241022', null],
  ['google', 'gemini-2.5-pro', null],
  ['bedrock', 'us.anthropic.claude-3-5-sonnet-20240620-v1:0', 'us-west-2'],
  ['bedrock', 'meta.llama3-70b-instruct-v1:0', 'eu-west-2'],
  ['mistral', 'mistral-large-latest', null],
  ['deepseek', 'deepseek-chat', null],
];

let made = 0;
function makeRows(n: number): EventRow[] {
  const rows: EventRow[] = new Array(n);
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  for (let i = 0; i < n; i++) {
    const k = made++;
    const [provider, model, region] = models[k % models.length]!;
    const input = 200 + ((k * 7919) % 5000);
    const output = 50 + ((k * 104729) % 2000);
    const data = { provider, model, input_tokens: input, output_tokens: output };
    rows[i] = {
      source: 'bench', id: String(k), type: 'llm.usage', subject: 'u', time: new Date(t0 + k * 1000), data,
      provider, model, region, team: null, project: null, api_key: null, feature: null,
      input_tokens: input, output_tokens: output, cache_read_tokens: k % 3 === 0 ? 1000 : 0, cache_write_tokens: 0, reasoning_tokens: 0,
      cost: null, cost_source: null, computed_cost: null, price: null, unpriced: true, estimated: false,
    };
  }
  return rows;
}

// Ingest prices a batch (≤ 10,000 events), stores it and lets it go: price N events as N / 10,000
// batches of distinct events, each priced in full (only model resolution is cached).
const BATCH = 10_000;
const batches = Array.from({ length: Number(process.env.BENCH_BATCHES ?? 4) }, () => makeRows(BATCH));
engine.priceRows(batches[0]!); // warm the JIT and the resolution cache
// Events per second of wall time, and per second of this process's CPU time (what one core does
// when other processes share the machine).
const runs: number[] = [];
const cpuRuns: number[] = [];
for (let r = 0; r < 3; r++) {
  const t = process.hrtime.bigint();
  const c = process.cpuUsage();
  for (let done = 0, b = 0; done < N; done += BATCH, b++) engine.priceRows(batches[b % batches.length]!);
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  const cu = process.cpuUsage(c);
  runs.push(N / s);
  cpuRuns.push(N / ((cu.user + cu.system) / 1e6));
}
const rows = batches.flat();
const best = Math.max(...runs);
const bestCpu = Math.max(...cpuRuns);

// Context: ingest serialises every priced row to JSON for the insert anyway; how does pricing
// compare with that one step on this machine?
let jsonRate = 0;
for (let r = 0; r < 3; r++) {
  const c = process.cpuUsage();
  let bytes = 0;
  for (let done = 0, b = 0; done < N; done += BATCH, b++) bytes += JSON.stringify(batches[b % batches.length]!).length;
  const cu = process.cpuUsage(c);
  jsonRate = Math.max(jsonRate, N / ((cu.user + cu.system) / 1e6));
  if (bytes < 0) console.log(bytes);
}
const unpriced = rows.filter((r) => r.unpriced).length;
process.stdout.write(
  `pricing: ${N.toLocaleString('en-US')} llm.usage events in batches of ${BATCH.toLocaleString('en-US')}, ${models.length} models, best of 3: ${Math.round(best).toLocaleString('en-US')} priced events/s on one core ` +
    `(runs: ${runs.map((x) => Math.round(x).toLocaleString('en-US')).join(', ')}; per CPU-second: ${Math.round(bestCpu).toLocaleString('en-US')}); unpriced: ${unpriced}; target ≥ 1,000,000/s\n`,
);
process.stdout.write(
  `context: JSON-serialising the same priced rows (which the ingest insert does) runs at ${Math.round(jsonRate).toLocaleString('en-US')} rows per CPU-second here, ` +
    `so pricing costs ${((jsonRate / bestCpu) * 100).toFixed(0)} % of that one step\n`,
);
if (unpriced) process.exitCode = 1;
