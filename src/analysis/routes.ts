import { z } from 'zod';
import type { App } from '../http/server.ts';
import { requireScope } from '../http/auth.ts';
import type { KeyService } from '../auth/service.ts';
import type { Clock } from '../shared/clock.ts';
import type { RollupService } from '../rollups/service.ts';
import { tzParam } from '../rollups/params.ts';
import { bindingOf } from '../auth/binding.ts';
import { summary } from './summary.ts';

export function registerSummaryRoutes(app: App, deps: { keys: KeyService; rollups: Pick<RollupService, 'usage' | 'ranges'>; clock: Clock; defaultTz: string }) {
  app.get(
    '/v1/summary',
    {
      preHandler: requireScope(deps.keys, 'read'),
      schema: {
        tags: ['analysis'],
        summary: 'Yesterday, this week, month to date, month-end forecast and the split by provider, in a zone',
        description:
          'forecast_month_end = month-to-date cost + the rest of the month projected from the last 8 weeks of daily cost (linear trend, with a weekday effect where the history supports it; run rate with under 7 days); forecast.low/high is its 80 % interval. See docs/analysis.md.',
        querystring: z.object({ tz: tzParam(deps.defaultTz) }),
      },
    },
    async (req) => summary(deps.rollups, req.query.tz, deps.clock.now(), bindingOf(req.principal)),
  );
}
