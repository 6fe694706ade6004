import { z } from 'zod';
import type { App } from '../../http/server.ts';
import { requireScope } from '../../http/auth.ts';
import { bindingOf } from '../../auth/binding.ts';
import { tzParam } from '../../rollups/params.ts';
import { summary } from '../summary.ts';
import { span, tags, type AnalysisRouteDeps } from './common.ts';

/** The rollups' measures of one range (cost: decimal string, USD). */
const measures = z.object({
  requests: z.number(),
  unpriced_requests: z.number(),
  input_tokens: z.number(),
  output_tokens: z.number(),
  cache_read_tokens: z.number(),
  cache_write_tokens: z.number(),
  reasoning_tokens: z.number(),
  cost: z.string(),
});
const rangeMeasures = span.extend(measures.shape);

const summaryOut = z.object({
  currency: z.string(),
  tz: z.string(),
  as_of: z.string(),
  yesterday: rangeMeasures,
  this_week: rangeMeasures,
  month_to_date: rangeMeasures,
  /** Month-to-date cost plus the projected rest of the month, decimal string. */
  forecast_month_end: z.string(),
  forecast: z.object({
    method: z.string(),
    low: z.string(),
    high: z.string(),
    interval: z.number(),
    history_days: z.number(),
    month_start: z.string(),
    month_end: z.string(),
    elapsed_days: z.number(),
    days_in_month: z.number(),
  }),
  by_provider: z.array(z.object({ provider: z.string().nullable(), yesterday: measures, this_week: measures, month_to_date: measures, forecast_month_end: z.string() })),
});

/** GET /v1/summary (summary.ts). */
export function registerSummaryRoute(app: App, deps: Pick<AnalysisRouteDeps, 'keys' | 'rollups' | 'clock' | 'defaultTz'>) {
  app.get(
    '/v1/summary',
    {
      preHandler: requireScope(deps.keys, 'read'),
      schema: {
        tags,
        summary: 'Yesterday, this week, month to date, month-end forecast and the split by provider, in a zone',
        description:
          'forecast_month_end = month-to-date cost + the rest of the month projected from the last 8 weeks of daily cost (linear trend, with a weekday effect where the history supports it; run rate with under 7 days); forecast.low/high is its 80 % interval. See docs/analysis.md.',
        querystring: z.object({ tz: tzParam(deps.defaultTz) }),
        response: { 200: summaryOut },
      },
    },
    async (req) => summary(deps.rollups, req.query.tz, deps.clock.now(), bindingOf(req.principal)),
  );
}
