import { z } from 'zod';
import type { FastifyRequest } from 'fastify';
import type { App } from '../http/server.ts';
import { requireScope } from '../http/auth.ts';
import type { KeyService } from '../auth/service.ts';
import type { Clock } from '../shared/clock.ts';
import type { Db } from '../shared/db/index.ts';
import type { Signals } from '../shared/signals.ts';
import { ApiError, badRequest, notFound } from '../shared/errors.ts';
import { Money } from '../shared/money.ts';
import { DAY, QUARTER_HOUR, ceilTo, formatInZone, startOf, startOfNext, windowsOf } from '../shared/time.ts';
import type { RollupService } from '../rollups/service.ts';
import type { MeterService } from '../meters/service.ts';
import type { PricingService } from '../pricing/index.ts';
import { dimParam, rfc3339, tzParam } from '../rollups/params.ts';
import { bindingOf } from '../auth/binding.ts';
import type { Dim } from '../rollups/cubes.ts';
import { DegenerateRegressionError, readable, regress } from './regression.ts';
import { forecastUsage } from './forecast-service.ts';
import { scanAnomalies } from './anomaly-service.ts';
import { dismissAnomaly } from './store.ts';
import { MEASURES, tokensOf, type Measure } from './series.ts';
import { latencyKey, throughputOf, type EventLister } from './latency.ts';
import { idleKeySuggestions, modelSuggestions, outsizedSuggestions, type PriceFn, type UsageCell } from './suggestions.ts';

export interface AnalysisRouteDeps {
  keys: KeyService;
  db: Db;
  rollups: Pick<RollupService, 'usage' | 'ranges'>;
  meters: Pick<MeterService, 'query'>;
  pricing: PricingService | null;
  clock: Clock;
  signals?: Signals;
  defaultTz: string;
  minImpact: Record<Measure, number>;
  /** Raw events, for latency (tokens per second); absent: null. */
  events?: EventLister;
}

const decimal = z.string().regex(/^-?\d+(\.\d+)?$/, 'must be a decimal number such as 0.45');
const measureParam = z.enum(MEASURES).default('cost');
const repeated = z.union([z.string(), z.array(z.string())]).transform((v) => (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean));
const errorBody = z.object({ error: z.object({ type: z.string(), code: z.string(), message: z.string(), param: z.string().optional() }) });
const errors = { 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody };
const group = z.record(z.string(), z.string().nullable());

/** A default range: the last `days` whole days in the zone up to now (rounded up to 15 minutes). */
function lastDays(tz: string, now: Date, days: number) {
  const to = new Date(ceilTo(now.getTime(), QUARTER_HOUR));
  return { from: startOf(tz, 'day', to.getTime() - days * DAY), to };
}

function degenerate(e: unknown): never {
  if (e instanceof DegenerateRegressionError) {
    const code = { too_few_points: 'TOO_FEW_POINTS', no_variance: 'NO_VARIANCE', collinear: 'COLLINEAR', not_finite: 'NOT_FINITE' }[e.reason];
    throw badRequest(code, e.message, e.reason === 'no_variance' && e.variables.length === 1 ? e.variables[0] : e.reason === 'too_few_points' ? 'from' : 'x');
  }
  throw e;
}

/** Meter values per window, aligned; windows where every variable is zero (no data yet) are dropped. */
async function meterMatrix(deps: AnalysisRouteDeps, req: FastifyRequest, q: { x: string[]; y: string; window: 'hour' | 'day' | 'week'; from: Date; to: Date; tz: string }) {
  const bind = bindingOf(req.principal);
  const slugs = [...q.x, q.y];
  const windows = windowsOf(q.tz, q.window, q.from, q.to, 10_000);
  const index = new Map(windows.map((w, i) => [w.start.getTime(), i]));
  const cols = await Promise.all(
    slugs.map(async (slug) => {
      const col = new Float64Array(windows.length);
      const rows = await deps.meters.query(slug, { from: q.from, to: q.to, window: q.window, tz: q.tz, groupBy: [], filters: {}, bind });
      for (const r of rows) {
        const i = index.get(Date.parse(r.window_start));
        if (i !== undefined) col[i]! += Number(r.value);
      }
      return col;
    }),
  );
  const keep = windows.map((_, i) => i).filter((i) => cols.some((c) => c[i] !== 0));
  return { windows: keep.map((i) => windows[i]!), xs: q.x.map((_, j) => keep.map((i) => cols[j]![i]!)), y: keep.map((i) => cols[q.x.length]![i]!) };
}

async function correlate(deps: AnalysisRouteDeps, req: FastifyRequest, q: { x: string[]; y: string; window: 'hour' | 'day' | 'week'; from: Date; to: Date; tz: string }) {
  if (new Set([...q.x, q.y]).size !== q.x.length + 1) throw badRequest('INVALID_FIELD', 'x and y must be different meters, each named once', 'x');
  const m = await meterMatrix(deps, req, q);
  let fit;
  try {
    fit = regress(m.y, m.xs, { y: q.y, x: q.x });
  } catch (e) {
    degenerate(e);
  }
  return { fit, points: m.windows.map((w, i) => ({ window_start: formatInZone(q.tz, w.start), x: Object.fromEntries(q.x.map((s, j) => [s, m.xs[j]![i]!])), y: m.y[i]! })) };
}

export function registerAnalysisRoutes(app: App, deps: AnalysisRouteDeps) {
  const read = requireScope(deps.keys, 'read');
  const rangeShape = { from: rfc3339('from').optional(), to: rfc3339('to').optional(), tz: tzParam(deps.defaultTz) };
  const correlationQuery = z.object({
    ...rangeShape,
    x: repeated.refine((v) => v.length >= 1 && v.length <= 10, 'name 1 to 10 x meters'),
    y: z.string().min(1),
    window: z.enum(['hour', 'day', 'week']).default('day'),
  });
  const range = (q: { from?: Date; to?: Date; tz: string }, days: number) => {
    const d = lastDays(q.tz, deps.clock.now(), days);
    const from = q.from ?? d.from;
    const to = q.to ?? d.to;
    if (!(from.getTime() < to.getTime())) throw badRequest('INVALID_FIELD', 'from must be before to', 'from');
    return { from, to };
  };

  app.get(
    '/v1/analysis/correlation',
    {
      preHandler: read,
      schema: {
        tags: ['analysis'],
        summary: 'Least-squares fit of one meter on one or more others, per hour, day or week (default: the last 30 days)',
        querystring: correlationQuery,
        response: {
          200: z.object({
            y: z.string(), x: z.array(z.string()), window: z.string(), from: z.string(), to: z.string(),
            slope: z.number().optional(), coefficients: z.record(z.string(), z.number()).optional(), intercept: z.number(), r2: z.number(), adjusted_r2: z.number(), n: z.number(),
            residual_sd: z.number(), formula: z.string(),
            stderr: z.object({ slope: z.number().optional(), coefficients: z.record(z.string(), z.number()).optional(), intercept: z.number() }),
            points: z.array(z.object({ window_start: z.string(), x: z.record(z.string(), z.number()), y: z.number() })),
          }),
          ...errors,
        },
      },
    },
    async (req) => {
      const q = req.query;
      const { from, to } = range(q, 30);
      const { fit, points } = await correlate(deps, req, { ...q, from, to });
      const single = q.x.length === 1;
      return {
        y: q.y, x: q.x, window: q.window, from: formatInZone(q.tz, from), to: formatInZone(q.tz, to),
        ...(single ? { slope: fit.coefficients[0]! } : { coefficients: Object.fromEntries(q.x.map((s, j) => [s, fit.coefficients[j]!])) }),
        intercept: fit.intercept, r2: fit.r2, adjusted_r2: fit.adjusted_r2, n: fit.n, residual_sd: fit.residual_sd, formula: fit.formula,
        stderr: single
          ? { slope: fit.stderr.coefficients[0]!, intercept: fit.stderr.intercept }
          : { coefficients: Object.fromEntries(q.x.map((s, j) => [s, fit.stderr.coefficients[j]!])), intercept: fit.stderr.intercept },
        points,
      };
    },
  );

  app.get(
    '/v1/analysis/predict',
    {
      preHandler: read,
      schema: {
        tags: ['analysis'],
        summary: 'Calculator: a scenario in, usage and cost out, with the formula used',
        description:
          'Resource side (seed 000): y (default traffic_gb) fitted on x over from/to, then the scenario: <x meter>=value, or users, hours, days (x = users × hours × 60 × days for *_minutes meters); ' +
          'unit_price (per y unit) in currency, margin (share of the price: price = cost ÷ (1 − margin)). ' +
          'LLM side: provider, model (repeat to compare), requests (a month), avg_input_tokens, avg_output_tokens [, avg_cache_read_tokens] × catalog price.',
        querystring: z
          .object({
            ...rangeShape,
            x: repeated.optional(),
            y: z.string().default('traffic_gb'),
            window: z.enum(['hour', 'day', 'week']).default('day'),
            users: z.coerce.number().nonnegative().optional(),
            hours: z.coerce.number().nonnegative().optional(),
            days: z.coerce.number().nonnegative().optional(),
            unit_price: decimal.optional(),
            currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as KRW').default('USD'),
            margin: decimal.refine((v) => Number(v) >= 0 && Number(v) < 1, 'must be at least 0 and below 1').optional(),
            provider: z.string().optional(),
            model: repeated.optional(),
            requests: z.coerce.number().int().nonnegative().optional(),
            avg_input_tokens: z.coerce.number().nonnegative().optional(),
            avg_output_tokens: z.coerce.number().nonnegative().optional(),
            avg_cache_read_tokens: z.coerce.number().nonnegative().optional(),
          })
          .passthrough(),
        response: { 200: z.object({ kind: z.enum(['resource', 'llm']) }).passthrough(), ...errors },
      },
    },
    async (req) => {
      const q = req.query as typeof req.query & Record<string, unknown>;
      if (q.provider || q.requests !== undefined) {
        if (!q.provider || !q.model?.length || q.requests === undefined) throw badRequest('INVALID_FIELD', 'the LLM calculator needs provider, model and requests', 'provider');
        if (!deps.pricing) throw new ApiError({ type: 'unavailable', code: 'NO_PRICING', message: 'pricing is not wired in' });
        const usage = { input_tokens: q.avg_input_tokens ?? 0, output_tokens: q.avg_output_tokens ?? 0, cache_read_tokens: q.avg_cache_read_tokens ?? 0 };
        const rows = q.model.map((model) => {
          const quote = deps.pricing!.engine.price({ provider: q.provider!, model, time: deps.clock.now(), usage });
          if (!quote.priced) return { model, priced: false, reason: quote.reason, cost_per_request: null, monthly_cost: null };
          const monthly = new Money(quote.cost).times(q.requests!);
          return {
            model, priced: true, cost_per_request: quote.cost, monthly_cost: monthly.toDecimalPlaces(6).toFixed(), prices: quote.snapshot.prices,
            formula: `${q.requests} requests × (${usage.input_tokens} input × ${quote.snapshot.prices.input ?? 0} + ${usage.output_tokens} output × ${quote.snapshot.prices.output ?? 0}${usage.cache_read_tokens ? ` + ${usage.cache_read_tokens} cache read × ${quote.snapshot.prices.cache_read ?? 0}` : ''}) ÷ 1,000,000 = ${monthly.toDecimalPlaces(6).toFixed()} USD`,
          };
        });
        return { kind: 'llm' as const, currency: 'USD', provider: q.provider, requests: q.requests, avg: usage, models: rows };
      }
      const x = q.x?.length ? q.x : ['video_minutes'];
      const { from, to } = range(q, 30);
      const { fit } = await correlate(deps, req, { x, y: q.y, window: q.window, from, to, tz: q.tz });
      const scenario: Record<string, number> = {};
      const steps: string[] = [];
      for (const slug of x) {
        const direct = q[slug];
        if (direct !== undefined) scenario[slug] = Number(direct);
        else if (x.length === 1 && q.users !== undefined && q.hours !== undefined && q.days !== undefined) {
          const perMinute = slug.endsWith('_minutes') ? 60 : 1;
          scenario[slug] = q.users * q.hours * perMinute * q.days;
          steps.push(`${q.users} users × ${q.hours} h${perMinute === 60 ? ' × 60 min' : ''} × ${q.days} days = ${readable(scenario[slug]!)} ${slug}`);
        }
        if (!Number.isFinite(scenario[slug])) throw badRequest('INVALID_FIELD', `give ${slug}=<value> (or users, hours and days)`, slug);
      }
      // The intercept is per fitted window: a scenario of `days` days spans that many day windows.
      const windowsInScenario = q.days !== undefined ? (q.window === 'day' ? q.days : q.window === 'hour' ? q.days * 24 : q.days / 7) : 0;
      let usage = fit.intercept * windowsInScenario;
      for (const [j, slug] of x.entries()) usage += fit.coefficients[j]! * scenario[slug]!;
      const terms = x.map((slug, j) => `${readable(fit.coefficients[j]!)} × ${readable(scenario[slug]!)}`);
      if (windowsInScenario) terms.push(`${readable(fit.intercept)} × ${readable(windowsInScenario)} ${q.window}s`);
      steps.push(`${q.y} = ${terms.join(' + ')} = ${readable(usage)} ${q.y}`);
      let cost: string | null = null;
      let price: string | null = null;
      if (q.unit_price !== undefined) {
        const c = new Money(usage.toPrecision(15)).times(q.unit_price);
        cost = c.toDecimalPlaces(2).toFixed(2);
        steps.push(`${readable(usage)} × ${q.unit_price} ${q.currency} = ${cost} ${q.currency}`);
        if (q.margin !== undefined) {
          price = c.div(new Money(1).minus(q.margin)).toDecimalPlaces(2).toFixed(2);
          steps.push(`${cost} ÷ (1 − ${q.margin}) = ${price} ${q.currency} (margin ${new Money(q.margin).times(100).toFixed()} % of the price)`);
        }
      }
      return {
        kind: 'resource' as const,
        fit: { formula: fit.formula, r2: fit.r2, n: fit.n, window: q.window, from: formatInZone(q.tz, from), to: formatInZone(q.tz, to) },
        scenario,
        usage: { meter: q.y, value: usage },
        currency: q.currency,
        cost,
        price_with_margin: price,
        margin: q.margin ?? null,
        formula: steps.join('; '),
      };
    },
  );

  const forecastRow = z.object({ group, to_date: z.string(), expected: z.string(), low: z.string(), high: z.string(), method: z.string(), history_days: z.number() });
  app.get(
    '/v1/analysis/forecast',
    {
      preHandler: read,
      schema: {
        tags: ['analysis'],
        summary: 'Period-end projection per group with an 80 % interval (linear trend, weekday effect where the history supports it)',
        querystring: z.object({ measure: measureParam, group_by: dimParam.optional(), period: z.enum(['day', 'week', 'month']).default('month'), tz: tzParam(deps.defaultTz) }),
        response: {
          200: z.object({ measure: z.string(), tz: z.string(), period: z.string(), period_start: z.string(), period_end: z.string(), as_of: z.string(), interval: z.number(), total: forecastRow, rows: z.array(forecastRow) }),
          ...errors,
        },
      },
    },
    async (req) => {
      const q = req.query;
      return forecastUsage(deps.rollups, { tz: q.tz, now: deps.clock.now(), measure: q.measure, groupBy: q.group_by ? [q.group_by] : [], period: q.period }, bindingOf(req.principal));
    },
  );

  const anomalyOut = z.object({
    id: z.string(), measure: z.string(), window: z.string(), window_start: z.string(), window_end: z.string(), group,
    actual: z.string(), expected: z.string(), score: z.number(),
    drivers: z.array(z.object({ dimension: z.string(), value: z.string().nullable(), share: z.number(), excess: z.string() })),
    detected_at: z.string(), dismissed: z.object({ at: z.string(), reason: z.string().nullable(), by: z.string().nullable() }).nullable(),
  });
  const anomalyOf = (tz: string) => (a: Awaited<ReturnType<typeof scanAnomalies>>[number]) => ({
    id: a.id, measure: a.measure, window: a.window_unit, window_start: formatInZone(tz, a.window_start), window_end: formatInZone(tz, a.window_end),
    group: a.group_value, actual: a.actual, expected: a.expected, score: a.score, drivers: a.drivers as z.infer<typeof anomalyOut>['drivers'],
    detected_at: a.detected_at.toISOString(),
    dismissed: a.dismissed_at ? { at: a.dismissed_at.toISOString(), reason: a.dismiss_reason, by: a.dismissed_by } : null,
  });

  app.get(
    '/v1/analysis/anomalies',
    {
      preHandler: read,
      schema: {
        tags: ['analysis'],
        summary: 'Windows unusual for their weekday/hour (median and MAD of the same slot over the trailing 8 weeks), with their drivers; default the last 30 days',
        querystring: z.object({
          ...rangeShape,
          measure: measureParam,
          window: z.enum(['hour', 'day']).default('day'),
          group_by: z.enum(['team', 'model', 'subject', 'provider', 'feature']).optional(),
          min_impact: decimal.optional(),
          include_dismissed: z.enum(['true', 'false']).default('false'),
        }),
        response: { 200: z.object({ min_impact: z.string(), rows: z.array(anomalyOut) }), ...errors },
      },
    },
    async (req) => {
      const q = req.query;
      const { from, to } = range(q, 30);
      const minImpact = q.min_impact !== undefined ? Number(q.min_impact) : deps.minImpact[q.measure];
      const rows = await scanAnomalies(
        { db: deps.db, rollups: deps.rollups, signals: deps.signals },
        { measure: q.measure, window: q.window, groupBy: (q.group_by ?? null) as Dim | null, from, to, tz: q.tz, minImpact },
        deps.clock.now(),
        bindingOf(req.principal),
      );
      return { min_impact: String(minImpact), rows: rows.filter((a) => q.include_dismissed === 'true' || !a.dismissed_at).map(anomalyOf(q.tz)) };
    },
  );

  app.post(
    '/v1/analysis/anomalies/:id/dismiss',
    {
      preHandler: read,
      schema: {
        tags: ['analysis'],
        summary: 'Dismiss an anomaly with a reason (kept; it is no longer listed or signalled)',
        params: z.object({ id: z.string().min(1).max(64) }),
        body: z.object({ reason: z.string().trim().min(1, 'give a reason').max(1000) }).strict(),
        response: { 200: anomalyOut, ...errors },
      },
    },
    async (req) => {
      const a = await dismissAnomaly(deps.db, req.params.id, req.body.reason, req.principal?.keyId ?? null, deps.clock.now());
      if (!a) throw notFound('anomaly');
      return anomalyOf(deps.defaultTz)(a);
    },
  );

  app.get(
    '/v1/analysis/trends',
    {
      preHandler: read,
      schema: {
        tags: ['analysis'],
        summary: 'Period-over-period change: the last complete period against the one before, and the current period so far',
        querystring: z.object({ measure: measureParam, period: z.enum(['day', 'week', 'month']).default('week'), group_by: dimParam.optional(), tz: tzParam(deps.defaultTz) }),
        response: {
          200: z.object({
            measure: z.string(), period: z.string(),
            periods: z.object({ previous: z.object({ from: z.string(), to: z.string() }), last: z.object({ from: z.string(), to: z.string() }), current: z.object({ from: z.string(), to: z.string() }) }),
            rows: z.array(z.object({ group, previous: z.string(), last: z.string(), current_to_date: z.string(), change: z.string(), change_percent: z.number().nullable() })),
          }),
          ...errors,
        },
      },
    },
    async (req) => {
      const q = req.query;
      const now = deps.clock.now();
      const upTo = new Date(ceilTo(now.getTime(), QUARTER_HOUR));
      const current = startOf(q.tz, q.period, now);
      const last = startOf(q.tz, q.period, current.getTime() - 1);
      const previous = startOf(q.tz, q.period, last.getTime() - 1);
      const ws = [{ start: previous, end: last }, { start: last, end: current }, { start: current, end: upTo.getTime() > current.getTime() ? upTo : current }];
      const groupBy = q.group_by ? [q.group_by] : [];
      const rows = await deps.rollups.ranges(ws, groupBy, bindingOf(req.principal), q.tz);
      const by = new Map<string, { group: Record<string, string | null>; v: Money[] }>();
      for (const r of rows) {
        const key = JSON.stringify(groupBy.map((d) => r.dims[d] ?? null));
        const g = by.get(key) ?? { group: Object.fromEntries(groupBy.map((d) => [d, r.dims[d] ?? null])), v: [new Money(0), new Money(0), new Money(0)] };
        g.v[r.w] = g.v[r.w]!.plus(q.measure === 'cost' ? r.cost : q.measure === 'tokens' ? tokensOf(r) : r.requests);
        by.set(key, g);
      }
      const w = (s: Date, e: Date) => ({ from: formatInZone(q.tz, s), to: formatInZone(q.tz, e) });
      return {
        measure: q.measure,
        period: q.period,
        periods: { previous: w(previous, last), last: w(last, current), current: w(current, startOfNext(q.tz, q.period, now)) },
        rows: [...by.values()]
          .map(({ group: g, v }) => ({
            group: g, previous: v[0]!.toFixed(), last: v[1]!.toFixed(), current_to_date: v[2]!.toFixed(), change: v[1]!.minus(v[0]!).toFixed(),
            change_percent: v[0]!.isZero() ? null : v[1]!.minus(v[0]!).div(v[0]!).times(100).toDecimalPlaces(2).toNumber(),
          }))
          .sort((a, b) => new Money(b.change).abs().comparedTo(new Money(a.change).abs())),
      };
    },
  );

  app.get(
    '/v1/analysis/suggestions',
    {
      preHandler: read,
      schema: {
        tags: ['analysis'],
        summary: 'Savings advice with evidence, each priced from the catalog over the last 30 days (taken as a month)',
        querystring: z.object({ group_by: z.enum(['team', 'project', 'feature', 'subject']).optional(), tz: tzParam(deps.defaultTz) }),
        response: {
          200: z.object({
            from: z.string(), to: z.string(), total_estimated_monthly_savings: z.string(),
            data: z.array(z.object({ kind: z.string(), scope: z.string().nullable(), title: z.string(), evidence: z.record(z.string(), z.unknown()), estimated_monthly_savings: z.string() })),
          }),
          ...errors,
        },
      },
    },
    async (req) => {
      const q = req.query;
      const bind = bindingOf(req.principal);
      const now = deps.clock.now();
      const to = new Date(ceilTo(now.getTime(), QUARTER_HOUR));
      const from = new Date(to.getTime() - 30 * DAY);
      const before = new Date(from.getTime() - 30 * DAY);
      const scopeDims: Dim[] = q.group_by ? [q.group_by] : [];
      const scopeOf = (r: Record<string, unknown>) => (q.group_by ? ((r[q.group_by] as string | null) ?? null) : null);
      const dims: Dim[] = [...new Set<Dim>([...scopeDims, 'feature', 'provider', 'model'])];
      const base = { tz: 'UTC', window: 'none' as const, filters: {} };
      const [cells, keysNow, keysBefore, subjects] = await Promise.all([
        deps.rollups.usage({ ...base, from, to, groupBy: dims }, bind),
        deps.rollups.usage({ ...base, from, to, groupBy: [...scopeDims, 'api_key'] }, bind),
        deps.rollups.usage({ ...base, from: before, to: from, groupBy: [...scopeDims, 'api_key'] }, bind),
        deps.rollups.usage({ ...base, from, to, groupBy: [...new Set<Dim>([...scopeDims, 'subject'])] }, bind),
      ]);
      const price: PriceFn | null = deps.pricing ? (r) => deps.pricing!.engine.price({ ...r, time: now }) : null;
      const usageCells: UsageCell[] = cells.rows.map((r) => ({ ...(r as unknown as UsageCell), scope: scopeOf(r as unknown as Record<string, unknown>), feature: r.feature ?? null, provider: r.provider ?? null, model: r.model ?? null }));
      const recent = new Set(keysNow.rows.map((r) => JSON.stringify([scopeOf(r as unknown as Record<string, unknown>), r.api_key ?? null])));
      const data = [
        ...(price ? modelSuggestions(usageCells, price) : []),
        ...idleKeySuggestions(keysBefore.rows.map((r) => ({ scope: scopeOf(r as unknown as Record<string, unknown>), api_key: r.api_key ?? null, requests: r.requests, cost: r.cost })), recent),
        ...(q.group_by === 'subject' ? [] : outsizedSuggestions(subjects.rows.map((r) => ({ scope: scopeOf(r as unknown as Record<string, unknown>), subject: r.subject ?? null, cost: r.cost, requests: r.requests })))),
      ].sort((a, b) => new Money(b.estimated_monthly_savings).comparedTo(a.estimated_monthly_savings));
      return {
        from: formatInZone(q.tz, from),
        to: formatInZone(q.tz, to),
        total_estimated_monthly_savings: data.reduce((s, d) => s.plus(d.estimated_monthly_savings), new Money(0)).toFixed(2),
        data,
      };
    },
  );

  app.get(
    '/v1/analysis/efficiency',
    {
      preHandler: read,
      schema: {
        tags: ['analysis'],
        summary: 'Efficiency: cost and tokens per request and output tokens per second by model and feature; cost per active user-hour and per video-minute overall (default: the last 30 days)',
        querystring: z.object({ ...rangeShape, group_by: repeated.optional() }),
        response: {
          200: z.object({
            from: z.string(), to: z.string(),
            overall: z.object({ requests: z.number(), cost: z.string(), cost_per_request: z.string().nullable(), active_user_hours: z.number(), cost_per_user_hour: z.string().nullable(), video_minutes: z.number(), cost_per_video_minute: z.string().nullable(), tokens_per_second: z.number().nullable(), latency_sample: z.object({ events_read: z.number(), with_latency: z.number(), complete: z.boolean() }) }),
            rows: z.array(z.object({ group, requests: z.number(), cost: z.string(), cost_per_request: z.string().nullable(), tokens_per_request: z.number().nullable(), output_share: z.number().nullable(), cache_read_share: z.number().nullable(), tokens_per_second: z.number().nullable() })),
          }),
          ...errors,
        },
      },
    },
    async (req) => {
      const q = req.query;
      const bind = bindingOf(req.principal);
      const { from, to } = range(q, 30);
      const groupBy = (q.group_by?.length ? q.group_by : ['model', 'feature']) as Dim[];
      for (const d of groupBy) if (!dimParam.safeParse(d).success) throw badRequest('INVALID_FIELD', `unknown dimension "${d}"`, 'group_by');
      const [byGroup, perUserHour, video, speed] = await Promise.all([
        deps.rollups.usage({ from, to, tz: q.tz, window: 'none', groupBy, filters: {} }, bind),
        deps.rollups.usage({ from, to, tz: q.tz, window: 'hour', groupBy: ['subject'], filters: {} }, bind),
        deps.meters.query('video_minutes', { from, to, tz: q.tz, window: 'none', groupBy: [], filters: {}, bind }).catch(() => []),
        // Latency is not in the rollups: a bounded read of the raw events (src/analysis/latency.ts).
        deps.events ? throughputOf(deps.events, { from, to, groupBy, bind }) : null,
      ]);
      const per = (cost: string | Money, n: number) => (n > 0 ? new Money(cost).div(n).toDecimalPlaces(8).toFixed() : null);
      const userHours = perUserHour.rows.filter((r) => r.subject && r.requests > 0).length;
      const minutes = video.reduce((s, r) => s + Number(r.value), 0);
      const totals = byGroup.totals;
      return {
        from: formatInZone(q.tz, from),
        to: formatInZone(q.tz, to),
        overall: {
          requests: totals.requests, cost: totals.cost, cost_per_request: per(totals.cost, totals.requests),
          active_user_hours: userHours, cost_per_user_hour: per(totals.cost, userHours),
          video_minutes: minutes, cost_per_video_minute: per(totals.cost, minutes),
          tokens_per_second: speed?.overall.tokens_per_second ?? null,
          latency_sample: { events_read: speed?.read ?? 0, with_latency: speed?.overall.events ?? 0, complete: speed?.complete ?? false },
        },
        rows: byGroup.rows
          .map((r) => {
            const tokens = tokensOf(r);
            const prompt = r.input_tokens + r.cache_read_tokens + r.cache_write_tokens;
            return {
              group: Object.fromEntries(groupBy.map((d) => [d, (r[d] as string | null | undefined) ?? null])),
              requests: r.requests, cost: r.cost, cost_per_request: per(r.cost, r.requests),
              tokens_per_request: r.requests ? Math.round(tokens / r.requests) : null,
              output_share: tokens ? Math.round((r.output_tokens / tokens) * 1000) / 1000 : null,
              cache_read_share: prompt ? Math.round((r.cache_read_tokens / prompt) * 1000) / 1000 : null,
              tokens_per_second: speed?.byGroup.get(latencyKey(groupBy.map((d) => r[d] as string | null | undefined)))?.tokens_per_second ?? null,
            };
          })
          .sort((a, b) => new Money(b.cost).comparedTo(a.cost)),
      };
    },
  );
}

