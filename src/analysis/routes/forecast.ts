import { z } from 'zod';
import type { App } from '../../http/server.ts';
import { requireScope } from '../../http/auth.ts';
import { bindingOf } from '../../auth/binding.ts';
import { dimParam, tzParam } from '../../rollups/params.ts';
import { forecastUsage } from '../forecast-service.ts';
import { errors, group, measureParam, tags, type AnalysisRouteDeps } from './common.ts';

const forecastRow = z.object({ group, to_date: z.string(), expected: z.string(), low: z.string(), high: z.string(), method: z.string(), history_days: z.number() });
const forecastOut = z.object({
  measure: z.string(),
  tz: z.string(),
  period: z.string(),
  period_start: z.string(),
  period_end: z.string(),
  as_of: z.string(),
  interval: z.number(),
  total: forecastRow,
  rows: z.array(forecastRow),
});

/** GET /v1/analysis/forecast: period-end projections (forecast-service.ts). */
export function registerForecastRoute(app: App, deps: AnalysisRouteDeps) {
  app.get(
    '/v1/analysis/forecast',
    {
      preHandler: requireScope(deps.keys, 'read'),
      schema: {
        tags,
        summary: 'Period-end projection per group with an 80 % interval (linear trend, weekday effect where the history supports it)',
        querystring: z.object({ measure: measureParam, group_by: dimParam.optional(), period: z.enum(['day', 'week', 'month']).default('month'), tz: tzParam(deps.defaultTz) }),
        response: { 200: forecastOut, ...errors },
      },
    },
    async (req) => {
      const q = req.query;
      return forecastUsage(deps.rollups, { tz: q.tz, now: deps.clock.now(), measure: q.measure, groupBy: q.group_by ? [q.group_by] : [], period: q.period }, bindingOf(req.principal));
    },
  );
}
