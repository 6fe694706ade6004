/**
 * npm run bench:gateway — latency the gateway adds, measured open-loop against one local upstream
 * in the same run: the same requests go straight to the upstream ("direct"), through a real
 * `tollgate serve` process ("gateway") and through a bare pass-through process ("floor");
 * added = gateway − direct at each percentile.
 * - non-streaming chat completions at --rps (default 500) for --seconds (default 10) per path;
 * - streaming chat completions: time to first byte, at --stream-rps (100) for --stream-seconds (5);
 * - Gemini streamGenerateContent (alt=sse): time to first byte at the same rate, its added TTFB also
 *   shown as a ratio to the bare relay's added TTFB in the same run;
 * - the paths take turns in --rounds (20) rounds, their samples pooled;
 * - peak RSS (VmHWM) of the gateway process.
 * Latency counts from each request's scheduled start (no coordinated omission).
 */
import { Worker } from 'node:worker_threads';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { BENCH_KEY, freshPostgresDatabase, percentile, startServer, tollgateNodeFlags } from './lib.ts';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const RPS = Number(args.get('rps') ?? 500);
const SECONDS = Number(args.get('seconds') ?? 10);
const STREAM_RPS = Number(args.get('stream-rps') ?? 100);
const STREAM_SECONDS = Number(args.get('stream-seconds') ?? Math.max(3, SECONDS / 2));
// Short turns (0.5 s at the defaults): a noisy second on the VM then falls on every path alike.
const ROUNDS = Math.max(1, Number(args.get('rounds') ?? 20));
const WARMUP = 2;

const upstream = new Worker(new URL('./upstream-worker.mjs', import.meta.url));
const upPort: number = await new Promise((ok, fail) => {
  upstream.once('message', ok);
  upstream.once('error', fail);
});
const upUrl = `http://127.0.0.1:${upPort}`;

// --store postgres (default): events go to a local PostgreSQL, as a production gateway would run;
// --store pglite: the embedded store, whose WASM engine shares the gateway's thread.
const STORE = args.get('store') ?? 'postgres';
const pgdb = STORE === 'postgres' ? await freshPostgresDatabase(`tollgate_bench_gw_${process.pid}`) : undefined;
const server = await startServer({ TOLLGATE_OPENAI_BASE_URL: `${upUrl}/v1`, OPENAI_API_KEY: 'sk-bench', TOLLGATE_GOOGLE_BASE_URL: upUrl, GEMINI_API_KEY: 'AIza-bench', ...(pgdb ? { DATABASE_URL: pgdb.url } : {}) });
// The floor runs with the node flags Tollgate runs with, so the two differ only in what they do.
const floor = spawn(process.execPath, [...tollgateNodeFlags(), new URL('./floor-proxy.mjs', import.meta.url).pathname, upUrl], { stdio: ['ignore', 'pipe', 'inherit'] });
const floorUrl: string = await new Promise((ok) => floor.stdout!.once('data', (d: Buffer) => ok(`http://127.0.0.1:${String(d).trim()}`)));
const rssPeak = () => {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.proc.pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
};

// CPU time per party during a phase (Linux /proc, in ticks of 10 ms): on a 2-core box the gateway's
// latency depends on who else is runnable, so each phase reports it beside the percentiles.
const ticksOf = (pid: number | string): number => {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
};
const postgresTicks = (): number => {
  let t = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('postgres')) t += ticksOf(pid);
    } catch {
      /* gone */
    }
  }
  return t;
};
const machineTicks = (): { busy: number; all: number } => {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const all = f.reduce((a, b) => a + b, 0);
  return { busy: all - f[3]! - f[4]!, all };
};
const cpuSnapshot = () => ({ gw: ticksOf(server.proc.pid!), floor: ticksOf(floor.pid!), bench: ticksOf(process.pid), pg: postgresTicks(), m: machineTicks(), at: performance.now() });
/** CPU ticks per party summed over a path's phases (they are interleaved with the other paths'). */
const cpuTotals = new Map<string, { gw: number; floor: number; bench: number; pg: number; busy: number; all: number; sec: number }>();
async function measured<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const a = cpuSnapshot();
  const r = await fn();
  const b = cpuSnapshot();
  const t = cpuTotals.get(label) ?? { gw: 0, floor: 0, bench: 0, pg: 0, busy: 0, all: 0, sec: 0 };
  t.gw += b.gw - a.gw;
  t.floor += b.floor - a.floor;
  t.bench += b.bench - a.bench;
  t.pg += b.pg - a.pg;
  t.busy += b.m.busy - a.m.busy;
  t.all += b.m.all - a.m.all;
  t.sec += (b.at - a.at) / 1000;
  cpuTotals.set(label, t);
  return r;
}
function cpuLine(label: string): string {
  const t = cpuTotals.get(label)!;
  // Backends that exit during a phase take their ticks with them, so small negatives are noise.
  const pct = (x: number) => `${Math.max(0, Math.round(x / t.sec))}%`;
  return `  ${label.padEnd(16)} cpu: gateway ${pct(t.gw)}, floor ${pct(t.floor)}, bench+upstream ${pct(t.bench)}, postgres ${pct(t.pg)}, other ${pct(t.busy - t.gw - t.floor - t.bench - t.pg)} (of ${Math.round(t.all / t.sec)}%)`;
}

const nonStream = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello' }] });
const streamBody = JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'Hello' }] });
const geminiBody = JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'Hello' }] }] });

// One client pool per path for the whole run: its kept-alive connections carry over from the
// warm-up into every turn, so no turn starts with connection set-up.
const pools = new Map<string, Pool>();
const poolFor = (origin: string) => {
  let p = pools.get(origin);
  if (!p) pools.set(origin, (p = new Pool(origin, { connections: 256, keepAliveTimeout: 60_000 })));
  return p;
};

/** Open loop: request i is scheduled at start + i/rate; its latency counts from that instant. */
async function openLoop(origin: string, path: string, body: string, rate: number, seconds: number, ttfb: boolean): Promise<{ lat: number[]; errors: number; late: number }> {
  const pool = poolFor(origin);
  const total = Math.round(rate * seconds);
  const lat: number[] = [];
  let errors = 0;
  let late = 0;
  const inflight: Promise<void>[] = [];
  const t0 = performance.now() + 20;
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    // Sleep, never spin: on a 2-core box a spinning generator takes ~half a core from the very
    // processes being measured (and the gateway path has more of them than the direct one).
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    // Latency counts from the scheduled instant even when the generator is late (no coordinated
    // omission); a timer may also fire up to ~1 ms early (libuv's cached loop time), and then it
    // counts from the real send.
    const at = Math.min(due, performance.now());
    if (performance.now() - due > 5) late++;
    inflight.push(
      (async () => {
        try {
          const r = await pool.request({ path, method: 'POST', headers: { authorization: `Bearer ${BENCH_KEY}`, 'content-type': 'application/json' }, body });
          if (ttfb) {
            for await (const _ of r.body) {
              lat.push(performance.now() - at);
              break;
            }
            await r.body.dump();
          } else {
            await r.body.arrayBuffer();
            lat.push(performance.now() - at);
          }
          if (r.statusCode !== 200) errors++;
        } catch {
          errors++;
        }
      })(),
    );
  }
  await Promise.all(inflight);
  lat.sort((a, b) => a - b);
  return { lat, errors, late };
}

const fmt = (n: number) => n.toFixed(3).padStart(8);
function report(label: string, direct: number[], gw: number[]) {
  const rows = [50, 90, 99, 99.9].map((p) => {
    const d = percentile(direct, p);
    const g = percentile(gw, p);
    return `  p${String(p).padEnd(4)} direct ${fmt(d)} ms   gateway ${fmt(g)} ms   added ${fmt(g - d)} ms`;
  });
  console.log(`${label}\n${rows.join('\n')}`);
  return { p50: percentile(gw, 50) - percentile(direct, 50), p99: percentile(gw, 99) - percentile(direct, 99) };
}

type Paths = ReadonlyArray<readonly ['direct' | 'gateway' | 'floor', string, string]>;
const paths: Paths = [
  ['direct', upUrl, '/v1/chat/completions'],
  ['gateway', server.url, '/openai/v1/chat/completions'],
  ['floor', floorUrl, '/openai/v1/chat/completions'],
];
const GEMINI_STREAM = '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse';
const geminiPaths: Paths = [
  ['direct', upUrl, GEMINI_STREAM],
  ['gateway', server.url, `/google${GEMINI_STREAM}`],
  ['floor', floorUrl, `/google${GEMINI_STREAM}`],
];

/** Tollgate's added latency as a multiple of the bare relay's, at p50 and p99 (n/a when the relay added none). */
function ratioLine(label: string, gw: { p50: number; p99: number }, floorAdded: { p50: number; p99: number }) {
  const r = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}×` : 'n/a (relay added ≤ 0)');
  return `  ${label}: Tollgate's added TTFB ÷ the bare relay's: p50 ${r(gw.p50, floorAdded.p50)}, p99 ${r(gw.p99, floorAdded.p99)}`;
}

/**
 * The three paths take turns, ROUNDS times, each for its share of the time: a machine that is
 * noisier in one stretch of the run (another tenant, a backup) then weighs on every path alike
 * instead of on whichever phase it happened to fall in. Each path's samples are pooled.
 */
async function interleaved(stream: boolean, rate: number, seconds: number, over: Paths = paths, body = stream ? streamBody : nonStream) {
  const lat = { direct: [] as number[], gateway: [] as number[], floor: [] as number[] };
  const errors = { direct: 0, gateway: 0, floor: 0 };
  let late = 0;
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, origin, path] of over) {
      const run = () => openLoop(origin, path, body, rate, seconds / ROUNDS, stream);
      const x = stream ? await run() : await measured(name, run);
      lat[name].push(...x.lat);
      errors[name] += x.errors;
      late += x.late;
    }
  }
  for (const l of Object.values(lat)) l.sort((a, b) => a - b);
  return { lat, errors, late };
}

try {
  console.log(`store: ${STORE}`);
  console.log(`gateway bench: upstream ${upUrl}, gateway ${server.url}, ${RPS} req/s × ${SECONDS}s non-streaming, ${STREAM_RPS} req/s × ${STREAM_SECONDS}s streaming, each path in ${ROUNDS} turns`);
  // warm up every path (connections, JIT, key cache)
  for (const stream of [false, true]) for (const [, origin, path] of paths) await openLoop(origin, path, stream ? streamBody : nonStream, RPS, WARMUP, stream);
  for (const [, origin, path] of geminiPaths) await openLoop(origin, path, geminiBody, STREAM_RPS, WARMUP, true);
  const n = await interleaved(false, RPS, SECONDS);
  const added = report(`non-streaming chat completions, latency (errors direct ${n.errors.direct}, gateway ${n.errors.gateway}, floor ${n.errors.floor}; late schedules ${n.late})`, n.lat.direct, n.lat.gateway);
  const floorAdded = report('  the same through a bare pass-through process (the floor any Node gateway pays here)', n.lat.direct, n.lat.floor);
  const st = await interleaved(true, STREAM_RPS, STREAM_SECONDS);
  const addedS = report(`streaming chat completions, time to first byte (errors direct ${st.errors.direct}, gateway ${st.errors.gateway}, floor ${st.errors.floor}; late schedules ${st.late})`, st.lat.direct, st.lat.gateway);
  const floorS = report('  the same through the bare pass-through process', st.lat.direct, st.lat.floor);
  console.log(ratioLine('OpenAI chat stream', addedS, floorS));
  const gm = await interleaved(true, STREAM_RPS, STREAM_SECONDS, geminiPaths, geminiBody);
  const addedG = report(`Gemini streamGenerateContent (alt=sse), time to first byte (errors direct ${gm.errors.direct}, gateway ${gm.errors.gateway}, floor ${gm.errors.floor}; late schedules ${gm.late})`, gm.lat.direct, gm.lat.gateway);
  const floorG = report('  the same through the bare pass-through process', gm.lat.direct, gm.lat.floor);
  console.log(ratioLine('Gemini stream', addedG, floorG));
  console.log(`Tollgate beyond the bare pass-through: non-streaming p50 +${(added.p50 - floorAdded.p50).toFixed(3)} ms, p99 +${(added.p99 - floorAdded.p99).toFixed(3)} ms; streaming TTFB p50 +${(addedS.p50 - floorS.p50).toFixed(3)} ms, p99 +${(addedS.p99 - floorS.p99).toFixed(3)} ms; Gemini streaming TTFB p50 +${(addedG.p50 - floorG.p50).toFixed(3)} ms, p99 +${(addedG.p99 - floorG.p99).toFixed(3)} ms`);
  console.log(`CPU per path (non-streaming; 100% = one core):\n${paths.map(([name]) => cpuLine(name)).join('\n')}`);
  const rss = rssPeak();
  console.log(`gateway process peak RSS: ${rss.toFixed(1)} MB`);
  // The targets hold for both: non-streaming latency and streaming time to first byte.
  const ok = added.p50 <= 0.5 && added.p99 <= 3 && addedS.p50 <= 0.5 && addedS.p99 <= 3 && rss <= 200;
  console.log(`targets (added p50 ≤ 0.5 ms, p99 ≤ 3 ms, RSS ≤ 200 MB): ${ok ? 'met' : 'NOT met'}  [non-streaming p50 +${added.p50.toFixed(3)} p99 +${added.p99.toFixed(3)}; streaming TTFB p50 +${addedS.p50.toFixed(3)} p99 +${addedS.p99.toFixed(3)}; RSS ${rss.toFixed(0)} MB]`);
} finally {
  if (process.env.BENCH_DUMP_METRICS) console.log((await (await fetch(server.url + "/metrics")).text()).split("\n").filter((l) => /overhead.*(_sum|_count)|upstream.*(_sum|_count)/.test(l)).join("\n"));
  await Promise.all([...pools.values()].map((p) => p.close()));
  await server.stop();
  await pgdb?.drop();
  floor.kill();
  await upstream.terminate();
}
