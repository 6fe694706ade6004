/**
 * npm run bench:collect — days of 1-hour-bucket OpenAI usage collected per second from a local
 * server answering 50 models × 20 API keys per bucket (1,000 results an hour, 24,000 a day, one
 * day per page, chained by next_page), recorded into a fresh store (PGlite in a temp dir, or
 * PostgreSQL with BENCH_DATABASE_URL). The floor, measured in the same run, is reading and parsing
 * the same pages without recording anything: the provider-bound rate the collector cannot beat.
 * BENCH_DAYS (default 3).
 */
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { createTollgate } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/shared/log.ts';
import { pullOpenai } from '../src/collectors/providers.ts';

const DAYS = Number(process.env.BENCH_DAYS ?? 3);
const MODELS = 50;
const KEYS = 20;
const START = Date.UTC(2026, 0, 1) / 1000;

function dayPage(dayStart: number, hi: number) {
  const data = [];
  for (let h = 0; h < 24; h++) {
    const s = dayStart + h * 3600;
    if (s >= hi) break;
    const results = [];
    for (let m = 0; m < MODELS; m++) {
      for (let k = 0; k < KEYS; k++) {
        results.push({
          object: 'organization.usage.completions.result',
          input_tokens: 1000 + m + k,
          output_tokens: 200 + k,
          input_cached_tokens: 100,
          input_audio_tokens: 0,
          output_audio_tokens: 0,
          num_model_requests: 3,
          project_id: `proj_${k % 4}`,
          user_id: null,
          api_key_id: `key_${k}`,
          model: `gpt-bench-${m}`,
          batch: false,
        });
      }
    }
    data.push({ object: 'bucket', start_time: s, end_time: s + 3600, results });
  }
  return data;
}

const server = http.createServer((req, res) => {
  const u = new URL(req.url!, 'http://127.0.0.1');
  const lo = Number(u.searchParams.get('start_time'));
  const hi = Number(u.searchParams.get('end_time'));
  const page = Number((u.searchParams.get('page') ?? 'page_0').slice(5));
  const dayStart = lo + page * 86400;
  let body: unknown;
  if (u.pathname.endsWith('/completions') && dayStart < hi) {
    const more = dayStart + 86400 < hi;
    body = { object: 'page', data: dayPage(dayStart, hi), has_more: more, next_page: more ? `page_${page + 1}` : null };
  } else if (u.pathname.endsWith('/costs')) {
    const data = [];
    for (let d = lo; d < hi; d += 86400) {
      data.push({ object: 'bucket', start_time: d, end_time: d + 86400, results: Array.from({ length: MODELS }, (_, m) => ({ object: 'organization.costs.result', amount: { value: 1.25 + m / 100, currency: 'usd' }, line_item: `gpt-bench-${m}, input`, project_id: 'proj_0' })) });
    }
    body = { object: 'page', data, has_more: false, next_page: null };
  } else body = { object: 'page', data: [], has_more: false, next_page: null };
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;

const dataDir = await mkdtemp(path.join(os.tmpdir(), 'tollgate-bench-collect-'));
const config = loadConfig({
  env: { OPENAI_ADMIN_KEY: 'sk-admin-bench', ...(process.env.BENCH_DATABASE_URL ? { DATABASE_URL: process.env.BENCH_DATABASE_URL } : {}) },
  cwd: '/nonexistent',
  overrides: { data_dir: dataDir, log_level: 'silent', 'collectors.openai.base_url': base, 'collectors.openai.bucket_width': '1h' },
});
const tg = await createTollgate(config, { logger: createLogger('silent', false) });
const from = new Date(START * 1000);
const to = new Date((START + DAYS * 86400) * 1000);
try {
  // Floor: the same pages read and parsed, nothing recorded.
  let t = performance.now();
  const pulled = await pullOpenai(from, to, { baseUrl: base, adminKey: 'x', width: '1h', timeoutMs: 60_000, sleep: async () => {}, now: () => new Date() });
  const floorS = (performance.now() - t) / 1000;
  t = performance.now();
  const r = await tg.collectors.service.run('openai', from, to);
  const s = (performance.now() - t) / 1000;
  if (r.status !== 'ok') throw new Error(JSON.stringify(r.accounts));
  t = performance.now();
  const again = await tg.collectors.service.run('openai', from, to);
  const rerunS = (performance.now() - t) / 1000;
  process.stdout.write(
    `bench:collect (${tg.db.kind}) ${DAYS} days × 24 h × ${MODELS} models × ${KEYS} keys = ${pulled.buckets.length} rows, ${pulled.pages} pages\n` +
      `  collect + record: ${(DAYS / s).toFixed(2)} days/s (${Math.round(r.events / s)} events/s, ${s.toFixed(1)} s)\n` +
      `  re-run (all duplicates): ${(DAYS / rerunS).toFixed(2)} days/s (${again.duplicates} duplicates, ${rerunS.toFixed(1)} s)\n` +
      `  floor, read + parse only: ${(DAYS / floorS).toFixed(2)} days/s (${floorS.toFixed(1)} s)\n`,
  );
} finally {
  await tg.close();
  server.close();
  await rm(dataDir, { recursive: true, force: true });
}
