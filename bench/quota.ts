/**
 * npm run bench:quota — the quota gate's cost, in one run, on a local PostgreSQL:
 * 1. POST /v1/check at --rps (1,000/s) over 10,000 subjects (each with an entitlement and a grant)
 *    next to GET /healthz (one `SELECT 1`: the HTTP + database floor) on the same server, taking
 *    turns in --rounds rounds; p50/p99 of each. Target: check p99 ≤ 2 × the floor's p99.
 * 2. The gateway's added latency with enforcement on vs off (non-streaming chat completions at
 *    --gw-rps against a local upstream): off = no gate (allowAll); on = the quotas gate for a caller
 *    with no entitlement, for one entitled subject (warm caches; admitted against the process's slice
 *    of room, and again with a reservation statement per call), and for 10,000 entitled subjects
 *    (cold caches: every call looks its entitlement up, computes its answer from the stored usage
 *    snapshot and takes a slice). Target: ≤ 0.1 ms p50.
 * Before 1., every subject's first answer is computed once (it stores the usage snapshot), as on a
 * server that has been running: the measured checks are cold in the process, not in the database.
 * 3. GET /v1/entitlements/stats at 100,000 subjects: p95 of --stats-n calls. Target ≤ 100 ms.
 * The server is a child process (`--child`: createTollgate + one bench-only route that switches the
 * gate), so the load generator never shares its event loop. Open loop: latency counts from each
 * request's scheduled start.
 */
import { Worker } from 'node:worker_threads';
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import pg from 'pg';
import { BENCH_KEY, freshPostgresDatabase, percentile, tollgateNodeFlags } from './lib.ts';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');

if (process.argv.includes('--child')) {
  const { loadConfig } = await import('../src/config.ts');
  const { createTollgate } = await import('../src/app.ts');
  const { createLogger } = await import('../src/shared/log.ts');
  const { allowAll } = await import('../src/gateway/quota.ts');
  const config = loadConfig();
  const tg = await createTollgate(config, { logger: createLogger('warn') });
  await tg.keys.bootstrap(config.bootstrap_key);
  const gate = tg.quotas.gate;
  // Slices on/off at run time (quotas.slice_fraction 0 = one reservation statement per call).
  tg.server.post('/bench/slices/:on', async (req) => {
    tg.quotas.service.slices.enabled = (req.params as { on: string }).on === 'on';
    return { on: tg.quotas.service.slices.enabled };
  });
  tg.server.post('/bench/gate/:on', async (req) => {
    const on = (req.params as { on: string }).on === 'on';
    tg.gateway.setQuotaGate(on ? gate : allowAll);
    return { on };
  });
  await tg.server.listen({ port: config.port, host: '127.0.0.1' });
  process.stdout.write('ready\n');
  process.on('SIGTERM', () => void tg.close().then(() => process.exit(0)));
} else {
  await main();
}

async function main() {
  const RPS = Number(args.get('rps') ?? 1000);
  const SECONDS = Number(args.get('seconds') ?? 10);
  const ROUNDS = Math.max(1, Number(args.get('rounds') ?? 10));
  const GW_RPS = Number(args.get('gw-rps') ?? 200);
  const GW_SECONDS = Number(args.get('gw-seconds') ?? 6);
  const SUBJECTS = 10_000;
  const STATS_SUBJECTS = 100_000;
  const STATS_N = Number(args.get('stats-n') ?? 40);

  const upstream = new Worker(new URL('./upstream-worker.mjs', import.meta.url));
  const upPort: number = await new Promise((ok, fail) => {
    upstream.once('message', ok);
    upstream.once('error', fail);
  });
  const db = await freshPostgresDatabase(`tollgate_bench_quota_${process.pid}`);
  const port = 20000 + Math.floor(Math.random() * 20000);
  const child = spawn(process.execPath, [...tollgateNodeFlags(), '--import', 'tsx', new URL(import.meta.url).pathname, '--child'], {
    env: { ...process.env, PORT: String(port), DATABASE_URL: db.url, TOLLGATE_BOOTSTRAP_KEY: BENCH_KEY, TOLLGATE_LOG_LEVEL: 'warn', TOLLGATE_OPENAI_BASE_URL: `http://127.0.0.1:${upPort}/v1`, OPENAI_API_KEY: 'sk-bench' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((ok, fail) => {
    child.stdout!.on('data', (d: Buffer) => String(d).includes('ready') && ok());
    child.once('exit', (c) => fail(new Error(`server exited with ${c}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  const pool = new Pool(url, { connections: 256, keepAliveTimeout: 60_000 });
  const sql = new pg.Client({ connectionString: db.url });
  await sql.connect();

  type Req = { method: 'GET' | 'POST'; path: string; body?: (i: number) => string; headers?: (i: number) => Record<string, string> };
  async function openLoop(r: Req, rate: number, seconds: number): Promise<{ lat: number[]; errors: number; statuses: Map<number, number> }> {
    const total = Math.round(rate * seconds);
    const lat: number[] = [];
    const statuses = new Map<number, number>();
    let errors = 0;
    const inflight: Promise<void>[] = [];
    const t0 = performance.now() + 20;
    for (let i = 0; i < total; i++) {
      const due = t0 + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((res) => setTimeout(res, wait));
      const at = Math.min(due, performance.now());
      inflight.push(
        (async () => {
          try {
            const res = await pool.request({ path: r.path, method: r.method, headers: { authorization: `Bearer ${BENCH_KEY}`, ...(r.body ? { 'content-type': 'application/json' } : {}), ...r.headers?.(i) }, body: r.body?.(i) });
            await res.body.arrayBuffer();
            lat.push(performance.now() - at);
            statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
            if (res.statusCode >= 300) errors++;
          } catch {
            errors++;
          }
        })(),
      );
    }
    await Promise.all(inflight);
    return { lat, errors, statuses };
  }
  /** Paths take turns ROUNDS times so a noisy stretch of the machine weighs on each alike. */
  async function interleaved(paths: Array<[string, Req, (() => Promise<void>)?]>, rate: number, seconds: number, rounds: number) {
    const out = new Map<string, { lat: number[]; errors: number }>(paths.map(([n]) => [n, { lat: [], errors: 0 }]));
    for (let k = 0; k < rounds; k++) {
      for (const [name, req, before] of paths) {
        await before?.();
        const x = await openLoop(req, rate, seconds / rounds);
        const o = out.get(name)!;
        o.lat.push(...x.lat);
        o.errors += x.errors;
      }
    }
    for (const o of out.values()) o.lat.sort((a, b) => a - b);
    return out;
  }
  const f = (n: number) => n.toFixed(3).padStart(8);
  const rnd = (n: number) => Math.floor(Math.random() * n);

  try {
    // --- seed: 10,000 subjects with a monthly llm_tokens entitlement and a 100,000-token grant ---
    let t = performance.now();
    await sql.query(
      `INSERT INTO quota_entitlements (id, subject, meter, period, tz, warning, critical, block, created_at, updated_at)
       SELECT 'ent_b' || i, 's' || i, 'llm_tokens', 'month', 'UTC', 0.9, 0.95, 1.05, now() - interval '1 day', now() - interval '1 day' FROM generate_series(1, $1) i`,
      [SUBJECTS],
    );
    await sql.query(
      `INSERT INTO quota_grants (id, entitlement_id, kind, amount, priority, effective_at, recurring, created_at)
       SELECT 'grt_b' || i, 'ent_b' || i, 'free', 100000, 10, now() - interval '1 day', 'month', now() - interval '1 day' FROM generate_series(1, $1) i`,
      [SUBJECTS],
    );
    // s1 takes every call of the warm path: a grant it cannot use up in the run.
    await sql.query(`UPDATE quota_grants SET amount = 1000000000000 WHERE id = 'grt_b1'`);
    await sql.query('ANALYZE quota_entitlements; ANALYZE quota_grants');
    console.log(`seeded ${SUBJECTS} subjects in ${((performance.now() - t) / 1000).toFixed(1)} s; server ${url} on PostgreSQL`);

    // --- stored usage snapshots: the first answer of each entitlement replays from its creation and
    // stores its state (src/quotas/usage.ts); a server that has been running has one for every
    // entitlement it answered. The first 50 subjects get theirs through /v1/check (timed: the
    // first-answer cost); the other 9,950 rows are that engine-made row with each subject's own
    // grant id and grants_key (computed by usage.ts's grantsKey), checked equal for s50 below.
    {
      const { grantsKey } = await import('../src/quotas/usage.ts');
      const FIRST = 50;
      const first: number[] = [];
      for (let i = 1; i <= FIRST; i++) {
        const t1 = performance.now();
        const res = await pool.request({ path: '/v1/check', method: 'POST', headers: { authorization: `Bearer ${BENCH_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ subject: `s${i}`, meter: 'llm_tokens', amount: '100' }) });
        await res.body.arrayBuffer();
        first.push(performance.now() - t1);
      }
      first.sort((a, b) => a - b);
      await new Promise((r) => setTimeout(r, 500));
      const tpl = (await sql.query(`SELECT at, state::text AS state, usage_before::text AS ub, avg_at, grants_key FROM quota_usage_snapshots WHERE entitlement_id = 'ent_b${FIRST}'`)).rows[0];
      const ents = (await sql.query(`SELECT e.id, e.subject, e.created_at, e.tz, e.period, e.week_start, e.meter, g.id AS gid, g.amount::text AS amount, g.priority, g.effective_at, g.created_at AS gcreated
                                      FROM quota_entitlements e JOIN quota_grants g ON g.entitlement_id = e.id WHERE e.id LIKE 'ent_b%'`)).rows;
      const keyOf = (r: any) => grantsKey({ tz: r.tz, period: r.period, week_start: r.week_start, created_at: r.created_at, meter: r.meter, subject: r.subject, team: null, api_key: null, filter: {} } as any,
        [{ id: r.gid, kind: 'free', amount: r.amount, priority: r.priority, effective_at: r.effective_at, expires_at: null, recurring: 'month', voided_at: null, created_at: r.gcreated }], tpl.at);
      const mine = ents.find((r: any) => r.id === `ent_b${FIRST}`);
      if (keyOf(mine) !== tpl.grants_key) throw new Error('the seeded grants_key differs from the engine-made one');
      const rows = ents.filter((r: any) => Number(r.id.slice(5)) > FIRST && r.id !== 'ent_b1');
      for (let k = 0; k < rows.length; k += 2000) {
        const part = rows.slice(k, k + 2000);
        await sql.query(
          `INSERT INTO quota_usage_snapshots (entitlement_id, at, grants_key, state, usage_before, avg, avg_at, built_at)
           SELECT x.id, $1, x.key, replace($2, 'grt_b${FIRST}"', x.gid || '"')::jsonb, $3::numeric, NULL, $4, now() FROM unnest($5::text[], $6::text[], $7::text[]) AS x(id, key, gid)`,
          [tpl.at, tpl.state, tpl.ub, tpl.avg_at, part.map((r: any) => r.id), part.map(keyOf), part.map((r: any) => r.gid)],
        );
      }
      const n = Number((await sql.query('SELECT count(*) AS n FROM quota_usage_snapshots')).rows[0].n);
      console.log(`first answer of a subject (replay from creation, stores its snapshot), one at a time: p50 ${f(percentile(first, 50))} ms; ${n} snapshots stored`);
    }

    // --- 0. service time, unloaded: one request at a time ---
    const one = async (r: Req, i: number) => {
      const t1 = performance.now();
      const res = await pool.request({ path: r.path, method: r.method, headers: { authorization: `Bearer ${BENCH_KEY}`, ...(r.body ? { 'content-type': 'application/json' } : {}) }, body: r.body?.(i) });
      await res.body.arrayBuffer();
      return performance.now() - t1;
    };
    const seq = async (r: Req, n: number) => {
      const xs: number[] = [];
      for (let i = 0; i < n; i++) xs.push(await one(r, i));
      return xs.sort((a, b) => a - b);
    };
    {
      const cold: Req = { method: 'POST', path: '/v1/check', body: (i) => JSON.stringify({ subject: `s${5000 + i}`, meter: 'llm_tokens', amount: '100' }) };
      const warm: Req = { method: 'POST', path: '/v1/check', body: () => JSON.stringify({ subject: 's2', meter: 'llm_tokens', amount: '100' }) };
      const none: Req = { method: 'POST', path: '/v1/check', body: () => JSON.stringify({ subject: 'nobody', meter: 'llm_tokens', amount: '100' }) };
      await seq(warm, 50);
      const [hz0, c0, w0, n0] = [await seq({ method: 'GET', path: '/healthz' }, 300), await seq(cold, 300), await seq(warm, 300), await seq(none, 300)];
      console.log(`unloaded, one at a time (p50 / p99): healthz ${f(percentile(hz0, 50))} / ${f(percentile(hz0, 99))} ms; check cold subject ${f(percentile(c0, 50))} / ${f(percentile(c0, 99))} ms; check warm subject ${f(percentile(w0, 50))} / ${f(percentile(w0, 99))} ms; check no entitlement ${f(percentile(n0, 50))} / ${f(percentile(n0, 99))} ms`);
    }

    // --- 1. /v1/check vs /healthz ---
    const check: Req = { method: 'POST', path: '/v1/check', body: () => JSON.stringify({ subject: `s${1 + rnd(SUBJECTS)}`, meter: 'llm_tokens', amount: '100' }) };
    const health: Req = { method: 'GET', path: '/healthz' };
    await interleaved([['healthz', health], ['check', check]], RPS, 2, 2); // warm-up
    const c = await interleaved([['healthz', health], ['check', check]], RPS, SECONDS, ROUNDS);
    const hz = c.get('healthz')!;
    const ck = c.get('check')!;
    console.log(`/v1/check at ${RPS}/s over ${SUBJECTS} subjects vs /healthz (the floor), ${SECONDS} s each in ${ROUNDS} turns:`);
    for (const p of [50, 90, 99]) console.log(`  p${String(p).padEnd(3)} healthz ${f(percentile(hz.lat, p))} ms   check ${f(percentile(ck.lat, p))} ms`);
    console.log(`  errors: healthz ${hz.errors}, check ${ck.errors}`);
    const checkOk = percentile(ck.lat, 99) <= 2 * percentile(hz.lat, 99);
    console.log(`  target check p99 ≤ 2 × floor p99: ${checkOk ? 'met' : 'NOT met'} (${(percentile(ck.lat, 99) / percentile(hz.lat, 99)).toFixed(2)} ×)`);

    // --- 2. the gateway, enforcement on vs off ---
    const key = (await (await fetch(`${url}/v1/keys`, { method: 'POST', headers: { authorization: `Bearer ${BENCH_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'bench-gw', scopes: ['gateway'], team: 'bench' }) })).json()) as { key: string };
    const chat = JSON.stringify({ model: 'gpt-4o', max_tokens: 64, messages: [{ role: 'user', content: 'Hello' }] });
    const gw = (subject: (i: number) => string): Req => ({ method: 'POST', path: '/openai/v1/chat/completions', body: () => chat, headers: (i) => ({ authorization: `Bearer ${key.key}`, 'x-tollgate-subject': subject(i) }) });
    const post = (p: string) => fetch(`${url}${p}`, { method: 'POST' }).then((r) => r.arrayBuffer());
    const setGate = (on: boolean, slices = true) => async () => void (await Promise.all([post(`/bench/gate/${on ? 'on' : 'off'}`), post(`/bench/slices/${slices ? 'on' : 'off'}`)]));
    const gwPaths: Array<[string, Req, () => Promise<void>]> = [
      ['off', gw(() => 's1'), setGate(false)],
      ['on, no entitlement', gw(() => 'nobody'), setGate(true)],
      ['on, 1 subject', gw(() => 's1'), setGate(true)],
      ['on, 1 subject, per call', gw(() => 's1'), setGate(true, false)],
      ['on, 10,000 subjects', gw(() => `s${1 + rnd(SUBJECTS)}`), setGate(true)],
    ];
    await interleaved(gwPaths, GW_RPS, 4, 2); // warm-up (tokenizer, connections, JIT)
    {
      // Unloaded service time, one call at a time, the paths taking turns call by call.
      const lat = new Map<string, number[]>(gwPaths.map(([n]) => [n, []]));
      for (let i = 0; i < 150; i++) {
        for (const [name, req, before] of gwPaths) {
          await before();
          const t1 = performance.now();
          const res = await pool.request({ path: req.path, method: req.method, headers: { 'content-type': 'application/json', ...req.headers!(i) }, body: req.body!(i) });
          await res.body.arrayBuffer();
          lat.get(name)!.push(performance.now() - t1);
        }
      }
      const p50 = (n: string) => percentile(lat.get(n)!.sort((a, b) => a - b), 50);
      console.log(`gateway unloaded, one call at a time (p50; added vs off): ${gwPaths.map(([n]) => `${n} ${p50(n).toFixed(3)} ms${n === 'off' ? '' : ` (${(p50(n) - p50('off')).toFixed(3)})`}`).join('; ')}`);
    }
    const g = await interleaved(gwPaths, GW_RPS, GW_SECONDS * gwPaths.length, ROUNDS);
    const off = g.get('off')!;
    console.log(`gateway, non-streaming chat completions at ${GW_RPS}/s, ${GW_SECONDS * gwPaths.length} s per path in ${ROUNDS} turns; added = path − off:`);
    let worst = 0;
    for (const [name] of gwPaths) {
      const x = g.get(name)!;
      const a50 = percentile(x.lat, 50) - percentile(off.lat, 50);
      const a99 = percentile(x.lat, 99) - percentile(off.lat, 99);
      if (name !== 'off') worst = Math.max(worst, a50);
      console.log(`  ${name.padEnd(24)} p50 ${f(percentile(x.lat, 50))} ms  p99 ${f(percentile(x.lat, 99))} ms${name === 'off' ? '' : `   added p50 ${f(a50)} ms  p99 ${f(a99)} ms`}   errors ${x.errors}`);
    }
    const entitled = percentile(g.get('on, 1 subject')!.lat, 50) - percentile(off.lat, 50);
    console.log(`  target enforcement adds ≤ 0.1 ms p50: entitled caller (1 subject, slices) +${entitled.toFixed(3)} ms → ${entitled <= 0.1 ? 'met' : 'NOT met'}; worst path +${worst.toFixed(3)} ms`);
    await setGate(true)();

    // --- 3. /v1/entitlements/stats at 100,000 subjects ---
    t = performance.now();
    await sql.query(
      `INSERT INTO quota_entitlements (id, subject, meter, period, tz, warning, critical, block, snap_usage, snap_available, snap_purchased, snap_at, created_at, updated_at)
       SELECT 'ent_s' || i, 'x' || i, 'llm_tokens', 'month', 'UTC', 0.9, 0.95, 1.05, floor(random() * 120000), 100000, CASE WHEN i % 7 = 0 THEN 50000 ELSE 0 END, now(), now(), now()
         FROM generate_series(1, $1) i`,
      [STATS_SUBJECTS - SUBJECTS],
    );
    await sql.query('ANALYZE quota_entitlements');
    console.log(`seeded ${STATS_SUBJECTS} subjects for stats in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    // Uncached: a fresh process cache per call would need a restart; stats_cache_ms (10 s) is
    // per meter, so the first call after seeding computes and the rest answer from the cache.
    const t0s = performance.now();
    const first = await pool.request({ path: '/v1/entitlements/stats?meter=llm_tokens', method: 'GET', headers: { authorization: `Bearer ${BENCH_KEY}` } });
    await first.body.arrayBuffer();
    console.log(`/v1/entitlements/stats at ${STATS_SUBJECTS} subjects, computed (the cache empty): ${(performance.now() - t0s).toFixed(1)} ms`);
    const st: number[] = [];
    for (let i = 0; i < STATS_N + 3; i++) {
      const t1 = performance.now();
      const r = await pool.request({ path: '/v1/entitlements/stats?meter=llm_tokens', method: 'GET', headers: { authorization: `Bearer ${BENCH_KEY}` } });
      const body = (await r.body.json()) as { overview: { subjects: number } };
      if (i >= 3) st.push(performance.now() - t1);
      if (i === 0) console.log(`  stats: ${r.statusCode}, overview.subjects ${body.overview?.subjects}`);
    }
    st.sort((a, b) => a - b);
    console.log(`/v1/entitlements/stats at ${STATS_SUBJECTS} subjects (${STATS_N} calls, cached per process for 10 s as seed 003 asks): p50 ${f(percentile(st, 50))} ms  p95 ${f(percentile(st, 95))} ms  → target ≤ 100 ms p95: ${percentile(st, 95) <= 100 ? 'met' : 'NOT met'}`);
  } finally {
    await pool.close();
    await sql.end();
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    await db.drop();
    await upstream.terminate();
  }
}
