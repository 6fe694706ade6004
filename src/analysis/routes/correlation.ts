import { z } from 'zod';
import type { App } from '../../http/server.ts';
import { requireScope } from '../../http/auth.ts';
import { bindingOf } from '../../auth/binding.ts';
import type { Binding } from '../../rollups/service.ts';
import { badRequest } from '../../shared/errors.ts';
import { formatInZone, windowsOf } from '../../shared/time.ts';
import { regress, type RegressionFit as Fit } from '../regression.ts';
import { degenerate, errors, rangeOf, rangeShape, repeated, tags, window3, type AnalysisRouteDeps } from './common.ts';

export interface MatrixQuery {
  x: string[];
  y: string;
  window: 'hour' | 'day' | 'week';
  from: Date;
  to: Date;
  tz: string;
}

/** Meter values per window, aligned; windows where every variable is zero (no data yet) are dropped. */
async function meterMatrix(deps: Pick<AnalysisRouteDeps, 'meters'>, bind: Binding, q: MatrixQuery) {
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

/** The least-squares fit of y on the x meters over the range, and the points it was fitted on. */
export async function correlate(deps: Pick<AnalysisRouteDeps, 'meters'>, bind: Binding, q: MatrixQuery): Promise<{ fit: Fit; points: Array<{ window_start: string; x: Record<string, number>; y: number }> }> {
  if (new Set([...q.x, q.y]).size !== q.x.length + 1) throw badRequest('INVALID_FIELD', 'x and y must be different meters, each named once', 'x');
  const m = await meterMatrix(deps, bind, q);
  let fit: Fit;
  try {
    fit = regress(m.y, m.xs, { y: q.y, x: q.x });
  } catch (e) {
    degenerate(e);
  }
  return { fit, points: m.windows.map((w, i) => ({ window_start: formatInZone(q.tz, w.start), x: Object.fromEntries(q.x.map((s, j) => [s, m.xs[j]![i]!])), y: m.y[i]! })) };
}

const correlationOut = z.object({
  y: z.string(),
  x: z.array(z.string()),
  window: z.string(),
  from: z.string(),
  to: z.string(),
  slope: z.number().optional(),
  coefficients: z.record(z.string(), z.number()).optional(),
  intercept: z.number(),
  r2: z.number(),
  adjusted_r2: z.number(),
  n: z.number(),
  residual_sd: z.number(),
  formula: z.string(),
  stderr: z.object({ slope: z.number().optional(), coefficients: z.record(z.string(), z.number()).optional(), intercept: z.number() }),
  points: z.array(z.object({ window_start: z.string(), x: z.record(z.string(), z.number()), y: z.number() })),
});

/** GET /v1/analysis/correlation: one meter fitted on others (one x: slope; several: coefficients by meter). */
export function registerCorrelationRoute(app: App, deps: AnalysisRouteDeps) {
  app.get(
    '/v1/analysis/correlation',
    {
      preHandler: requireScope(deps.keys, 'read'),
      schema: {
        tags,
        summary: 'Least-squares fit of one meter on one or more others, per hour, day or week (default: the last 30 days)',
        querystring: z.object({
          ...rangeShape(deps.defaultTz),
          x: repeated.refine((v) => v.length >= 1 && v.length <= 10, 'name 1 to 10 x meters'),
          y: z.string().min(1),
          window: window3,
        }),
        response: { 200: correlationOut, ...errors },
      },
    },
    async (req) => {
      const q = req.query;
      const { from, to } = rangeOf(q, deps.clock.now(), 30);
      const { fit, points } = await correlate(deps, bindingOf(req.principal), { ...q, from, to });
      const single = q.x.length === 1;
      const byMeter = (v: number[]) => Object.fromEntries(q.x.map((s, j) => [s, v[j]!]));
      return {
        y: q.y,
        x: q.x,
        window: q.window,
        from: formatInZone(q.tz, from),
        to: formatInZone(q.tz, to),
        ...(single ? { slope: fit.coefficients[0]! } : { coefficients: byMeter(fit.coefficients) }),
        intercept: fit.intercept,
        r2: fit.r2,
        adjusted_r2: fit.adjusted_r2,
        n: fit.n,
        residual_sd: fit.residual_sd,
        formula: fit.formula,
        stderr: single ? { slope: fit.stderr.coefficients[0]!, intercept: fit.stderr.intercept } : { coefficients: byMeter(fit.stderr.coefficients), intercept: fit.stderr.intercept },
        points,
      };
    },
  );
}
