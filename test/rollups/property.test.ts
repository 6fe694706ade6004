import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { testApp, type TestApp } from '../helpers/app.ts';
import { Money } from '../../src/shared/money.ts';
import type { CostChange, StoredEvent } from '../../src/events/types.ts';

/**
 * Every query answered from rollups equals the same query computed straight from the raw events by
 * an independent reference (SQL with PostgreSQL's own zone math), after random ingests with late,
 * out-of-order and duplicate events and repricing.
 */

const ZONES = ['UTC', 'Asia/Seoul', 'Asia/Kolkata', 'Asia/Kathmandu', 'America/New_York'] as const;
const WINDOWS = ['hour', 'day', 'week', 'month', 'none'] as const;
const DIMS = ['subject', 'team', 'project', 'api_key', 'provider', 'model', 'region', 'feature'] as const;
const Q = 15 * 60_000;
// Two 15-day periods, each with a month boundary and ISO week boundaries: spring holds the US DST
// start (2026-03-08, a 23-hour day), fall the US DST end (2026-11-01, a 25-hour day).
const SPAN = 15 * 86_400_000;
const PERIODS = [Date.parse('2026-02-25T00:00:00Z'), Date.parse('2026-10-25T00:00:00Z')];
// Instants (offsets from the period start) where windows of some zone begin: events cluster there.
const SPECIAL = (t0: number) =>
  t0 === PERIODS[0]
    ? ['2026-03-08T07:00:00Z', '2026-03-01T00:00:00Z', '2026-02-28T15:00:00Z', '2026-02-28T18:30:00Z', '2026-02-28T18:15:00Z', '2026-03-01T05:00:00Z']
    : ['2026-11-01T06:00:00Z', '2026-11-01T05:00:00Z', '2026-10-31T15:00:00Z', '2026-10-31T18:30:00Z', '2026-10-31T18:15:00Z', '2026-11-01T04:00:00Z'];

const pick = <T,>(xs: readonly T[]) => fc.constantFrom(...xs);
const maybe = <T,>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null, freq: 4 });

const eventArb = fc.record({
  t: fc.oneof(
    fc.record({ special: fc.constant(-1), off: fc.integer({ min: -2 * 86_400_000, max: SPAN + 86_400_000 }) }),
    fc.record({ special: fc.integer({ min: 0, max: 5 }), off: fc.integer({ min: -2 * 3_600_000, max: 2 * 3_600_000 }) }),
  ),
  subject: maybe(pick(['ann', 'ben', 'cho', 'dev'])),
  team: maybe(pick(['red', 'blue'])),
  project: maybe(pick(['p1', 'p2'])),
  api_key: maybe(pick(['k1', 'k2'])),
  provider: pick(['openai', 'anthropic', 'bedrock']),
  model: pick(['m1', 'm2', 'm3']),
  region: maybe(pick(['us', 'eu'])),
  feature: maybe(pick(['chat', 'search'])),
  input: fc.integer({ min: 0, max: 5000 }),
  output: fc.integer({ min: 0, max: 2000 }),
  cacheRead: fc.integer({ min: 0, max: 300 }),
  cacheWrite: fc.integer({ min: 0, max: 300 }),
  reasoning: fc.integer({ min: 0, max: 100 }),
  cost: fc.option(fc.integer({ min: 0, max: 10_000_000 }).map((n) => new Money(n).div(1_000_000).toFixed()), { nil: null, freq: 3 }),
});

const queryArb = (reportZone: string) => fc.record({
  // With a report zone, most queries are in it (they read its own day and month rollups).
  tz: reportZone === 'UTC' ? pick(ZONES) : fc.oneof(fc.constant(reportZone), pick(ZONES)),
  window: pick(WINDOWS),
  from: fc.integer({ min: 0, max: SPAN / Q - 1 }),
  len: fc.integer({ min: 1, max: SPAN / Q }),
  // Half the queries sit on a zone's boundary instant (DST change, month start) with a short range.
  anchor: fc.option(fc.record({ special: fc.integer({ min: 0, max: 5 }), back: fc.integer({ min: 0, max: 96 }), len: fc.integer({ min: 1, max: 288 }) }), { nil: null }),
  groupBy: fc.subarray([...DIMS], { maxLength: 2 }),
  filter: fc.option(fc.record({ dim: pick(['team', 'model', 'subject', 'feature'] as const), value: pick(['red', 'm2', 'ann', 'chat']) }), { nil: null }),
  topBy: pick(DIMS),
  topMeasure: pick(['cost', 'tokens', 'requests'] as const),
});

type Ev = typeof eventArb extends fc.Arbitrary<infer R> ? R : never;

function timeOf(t0: number, t: Ev['t']): number {
  return t.special < 0 ? t0 + t.off : Date.parse(SPECIAL(t0)[t.special]!) + t.off;
}

function toCloudEvent(id: string, e: Ev, t0: number) {
  const data: Record<string, unknown> = {
    provider: e.provider,
    model: e.model,
    input_tokens: e.input,
    output_tokens: e.output,
    cache_read_tokens: e.cacheRead,
    cache_write_tokens: e.cacheWrite,
    reasoning_tokens: Math.min(e.reasoning, e.output),
  };
  for (const k of ['team', 'project', 'api_key', 'region', 'feature'] as const) if (e[k] !== null) data[k] = e[k];
  if (e.cost !== null) data.cost = e.cost;
  return { specversion: '1.0', id, source: 'prop', type: 'llm.usage', time: new Date(timeOf(t0, e.t)).toISOString(), ...(e.subject ? { subject: e.subject } : {}), data };
}

// The deployment's report zone (config tz): UTC keeps UTC grains only; New York (DST) and Kolkata
// (+05:30) also keep day and month rollups cut in that zone.
const REPORT_ZONES = ['UTC', 'America/New_York', 'Asia/Kolkata'] as const;
const apps = new Map<string, TestApp>();
let app: TestApp;
beforeAll(async () => {
  for (const z of REPORT_ZONES) apps.set(z, await testApp({ config: { tz: z } }));
});
afterAll(async () => {
  for (const a of apps.values()) await a.close();
});

async function reset() {
  await app.db.exec(`TRUNCATE events, event_tombstones, rollup_pending, rollup_llm_model, rollup_llm_subject, rollup_llm_org, rollup_llm_all`);
}

/** Reprices some events the way the pricing domain does: change cost columns, run the inTransaction hooks with the change in the same tx. */
async function reprice(seqMod: number, factor: string) {
  await app.db.transaction(async (tx) => {
    const before = (await tx.query<StoredEvent>(`SELECT * FROM events WHERE seq % $1 = 0 ORDER BY seq`, [seqMod])).rows;
    if (!before.length) return;
    const after = (
      await tx.query<StoredEvent>(
        `UPDATE events SET cost = coalesce(cost, 0.5) * $2::numeric, cost_source = 'computed', unpriced = false
         WHERE seq = ANY($1::bigint[]) RETURNING *`,
        [before.map((b) => b.seq), factor],
      )
    ).rows;
    const bySeq = new Map(after.map((a) => [String(a.seq), a]));
    const changes: CostChange[] = before.map((b) => ({ before: b, after: bySeq.get(String(b.seq))! }));
    for (const h of app.tg.events.hooks.inTransaction) await h.run(tx, { kind: 'repriced', changes });
  });
}

const MEASURE_SQL = `count(*)::int AS requests, (count(*) FILTER (WHERE unpriced))::int AS unpriced_requests,
  coalesce(sum(input_tokens),0)::text AS input_tokens, coalesce(sum(output_tokens),0)::text AS output_tokens,
  coalesce(sum(cache_read_tokens),0)::text AS cache_read_tokens, coalesce(sum(cache_write_tokens),0)::text AS cache_write_tokens,
  coalesce(sum(reasoning_tokens),0)::text AS reasoning_tokens, coalesce(sum(cost),0)::text AS cost`;

function windowExpr(window: string): string {
  // PostgreSQL's own zone rules: local wall time truncated, back to an instant. Hours are taken by
  // stripping the local minutes/seconds so the repeated fall-back hour stays two windows.
  if (window === 'none') return `$1::timestamptz`;
  if (window === 'hour') return `greatest($1::timestamptz, date_trunc('second', time) - make_interval(mins => extract(minute from time AT TIME ZONE $3)::int, secs => extract(second from date_trunc('second', time) AT TIME ZONE $3)))`;
  return `greatest($1::timestamptz, date_trunc('${window}', time AT TIME ZONE $3) AT TIME ZONE $3)`;
}

function norm(rows: any[], dims: readonly string[]) {
  return rows
    .map((r) => ({
      ...Object.fromEntries(dims.map((d) => [d, r[d] ?? null])),
      ...(r.window_start !== undefined ? { ws: Date.parse(r.window_start), local: r.local_start ?? String(r.window_start).slice(0, 19) } : {}),
      requests: Number(r.requests),
      unpriced_requests: Number(r.unpriced_requests),
      input_tokens: Number(r.input_tokens),
      output_tokens: Number(r.output_tokens),
      cache_read_tokens: Number(r.cache_read_tokens),
      cache_write_tokens: Number(r.cache_write_tokens),
      reasoning_tokens: Number(r.reasoning_tokens),
      cost: new Money(r.cost).toFixed(),
    }))
    .sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
}

describe.each(REPORT_ZONES)('rollups equal the raw events (report zone %s)', (reportZone) => {
  it('for random events, late/duplicate ingest, repricing and random queries', async () => {
    app = apps.get(reportZone)!;
    let idn = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...PERIODS),
        fc.array(eventArb, { minLength: 1, maxLength: 150 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.integer({ min: 0, max: 59 }), { maxLength: 8 }),
        fc.option(fc.record({ mod: fc.integer({ min: 2, max: 5 }), factor: pick(['0', '1.5', '0.333333']) }), { nil: null }),
        fc.array(queryArb(reportZone), { minLength: 4, maxLength: 8 }),
        async (T0, events, nBatches, dupIdx, rp, queries) => {
          const T1 = T0 + SPAN;
          await reset();
          const ces = events.map((e) => toCloudEvent(`e${idn++}`, e, T0));
          // Batches in random (not time) order, with some events resent later (duplicates).
          const size = Math.ceil(ces.length / nBatches);
          for (let b = 0; b < nBatches; b++) {
            const batch = ces.slice(b * size, (b + 1) * size);
            for (const i of dupIdx) if (i < b * size && ces[i]) batch.push(ces[i]!);
            if (!batch.length) continue;
            const r = await app.tg.events.ingest(batch);
            expect(r.rejected).toEqual([]);
          }
          if (rp) await reprice(rp.mod, rp.factor);

          for (const q of queries) {
            const from = q.anchor ? new Date(Date.parse(SPECIAL(T0)[q.anchor.special]!) - q.anchor.back * Q) : new Date(T0 + q.from * Q);
            const to = new Date(from.getTime() + (q.anchor ? q.anchor.len : q.len) * Q);
            if (!(from < to)) continue;
            const base = `from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}&tz=${q.tz}`;
            const filt = q.filter ? `&filter[${q.filter.dim}]=${q.filter.value}` : '';
            const where = `type = 'llm.usage' AND time >= $1 AND time < $2${q.filter ? ` AND ${q.filter.dim} = $4` : ''}`;
            const params: unknown[] = [from.toISOString(), to.toISOString(), q.tz];
            if (q.filter) params.push(q.filter.value);

            // /v1/usage
            const api = await app.request('GET', `/v1/usage?${base}&window=${q.window}${q.groupBy.length ? `&group_by=${q.groupBy.join(',')}` : ''}${filt}`);
            expect(api.status, JSON.stringify(api.body)).toBe(200);
            const wexpr = windowExpr(q.window);
            const ref = await app.db.query(
              `SELECT ${wexpr} AS window_start, to_char(${wexpr} AT TIME ZONE $3, 'YYYY-MM-DD"T"HH24:MI:SS') AS local_start ${q.groupBy.map((d) => `, ${d}`).join('')}, ${MEASURE_SQL}
               FROM events WHERE ${where} ${q.window === 'none' ? 'AND $3::text IS NOT NULL' : ''} GROUP BY 1, 2 ${q.groupBy.map((_, i) => `, ${i + 3}`).join('')}`,
              params,
            );
            const refRows = ref.rows.map((r: any) => ({ ...r, window_start: new Date(r.window_start).toISOString() }));
            expect(norm(api.body.rows, q.groupBy), `${q.tz} ${q.window} ${from.toISOString()}..${to.toISOString()} ${q.groupBy}`).toEqual(norm(refRows, q.groupBy));
            for (const r of api.body.rows) {
              // window bounds carry the zone's own offset (Z only for UTC)
              if (q.tz === 'Asia/Kolkata') expect(r.window_start).toMatch(/\+05:30$/);
              if (q.tz === 'Asia/Kathmandu') expect(r.window_start).toMatch(/\+05:45$/);
            }

            // /v1/usage/top
            const top = await app.request('GET', `/v1/usage/top?${base}&by=${q.topBy}&measure=${q.topMeasure}&limit=3${filt}`);
            expect(top.status, JSON.stringify(top.body)).toBe(200);
            const order = { cost: 'sum(cost)', requests: 'count(*)', tokens: 'sum(input_tokens + output_tokens + cache_read_tokens + cache_write_tokens)' }[q.topMeasure];
            const refTop = await app.db.query(
              `SELECT ${q.topBy}, ${MEASURE_SQL} FROM events WHERE ${where} AND $3::text IS NOT NULL
               GROUP BY 1 ORDER BY coalesce(${order}, 0) DESC, 1 NULLS LAST LIMIT 3`,
              params,
            );
            expect(top.body.rows.map((r: any) => norm([r], [q.topBy])[0])).toEqual(refTop.rows.map((r: any) => norm([r], [q.topBy])[0]));
          }
          if (reportZone !== 'UTC') {
            // The queries drained every batch: the zone's own day and month rollups were written.
            const zoneRows = await app.db.query<{ n: number }>('SELECT count(*)::int AS n FROM rollup_llm_model WHERE grain IN (5, 6)');
            expect(zoneRows.rows[0]!.n).toBeGreaterThan(0);
          }
        },
      ),
      { numRuns: Number(process.env.ROLLUP_PROPERTY_RUNS ?? (reportZone === 'UTC' ? 40 : 25)), seed: process.env.ROLLUP_PROPERTY_SEED ? Number(process.env.ROLLUP_PROPERTY_SEED) : undefined },
    );
  });
});
