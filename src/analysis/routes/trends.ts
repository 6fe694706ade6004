import { z } from 'zod';
import type { App } from '../../http/server.ts';
import { requireScope } from '../../http/auth.ts';
import { bindingOf } from '../../auth/binding.ts';
import { Money } from '../../shared/money.ts';
import { QUARTER_HOUR, ceilTo, formatInZone, startOf, startOfNext } from '../../shared/time.ts';
import { dimParam, tzParam } from '../../rollups/params.ts';
import type { Binding } from '../../rollups/service.ts';
import type { Dim } from '../../rollups/cubes.ts';
import { tokensOf, type Measure } from '../series.ts';
import { errors, group, measureParam, span, tags, type AnalysisRouteDeps } from './common.ts';

const trendsOut = z.object({
  measure: z.string(),
  period: z.string(),
  periods: z.object({ previous: span, last: span, current: span }),
  rows: z.array(z.object({ group, previous: z.string(), last: z.string(), current_to_date: z.string(), change: z.string(), change_percent: z.number().nullable() })),
});

interface TrendsQuery {
  measure: Measure;
  period: 'day' | 'week' | 'month';
  group_by?: Dim;
  tz: string;
}

/** The last complete period against the one before, and the current one so far; rows by largest change first. */
async function trends(deps: AnalysisRouteDeps, q: TrendsQuery, bind: Binding): Promise<z.infer<typeof trendsOut>> {
  const now = deps.clock.now();
  const upTo = new Date(ceilTo(now.getTime(), QUARTER_HOUR));
  const current = startOf(q.tz, q.period, now);
  const last = startOf(q.tz, q.period, current.getTime() - 1);
  const previous = startOf(q.tz, q.period, last.getTime() - 1);
  const ws = [{ start: previous, end: last }, { start: last, end: current }, { start: current, end: upTo.getTime() > current.getTime() ? upTo : current }];
  const groupBy = q.group_by ? [q.group_by] : [];
  const rows = await deps.rollups.ranges(ws, groupBy, bind, q.tz);
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
        group: g,
        previous: v[0]!.toFixed(),
        last: v[1]!.toFixed(),
        current_to_date: v[2]!.toFixed(),
        change: v[1]!.minus(v[0]!).toFixed(),
        change_percent: v[0]!.isZero() ? null : v[1]!.minus(v[0]!).div(v[0]!).times(100).toDecimalPlaces(2).toNumber(),
      }))
      .sort((a, b) => new Money(b.change).abs().comparedTo(new Money(a.change).abs())),
  };
}

/** GET /v1/analysis/trends. */
export function registerTrendsRoute(app: App, deps: AnalysisRouteDeps) {
  app.get(
    '/v1/analysis/trends',
    {
      preHandler: requireScope(deps.keys, 'read'),
      schema: {
        tags,
        summary: 'Period-over-period change: the last complete period against the one before, and the current period so far',
        querystring: z.object({ measure: measureParam, period: z.enum(['day', 'week', 'month']).default('week'), group_by: dimParam.optional(), tz: tzParam(deps.defaultTz) }),
        response: { 200: trendsOut, ...errors },
      },
    },
    async (req) => trends(deps, req.query, bindingOf(req.principal)),
  );
}
