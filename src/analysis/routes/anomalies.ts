import { z } from 'zod';
import type { App } from '../../http/server.ts';
import { requireScope } from '../../http/auth.ts';
import { bindingOf } from '../../auth/binding.ts';
import { notFound } from '../../shared/errors.ts';
import { formatInZone } from '../../shared/time.ts';
import type { Dim } from '../../rollups/cubes.ts';
import { scanAnomalies } from '../anomaly-service.ts';
import { dismissAnomaly } from '../store.ts';
import { decimal, errors, group, measureParam, rangeOf, rangeShape, tags, type AnalysisRouteDeps } from './common.ts';

const anomalyOut = z.object({
  id: z.string(),
  measure: z.string(),
  window: z.string(),
  window_start: z.string(),
  window_end: z.string(),
  group,
  actual: z.string(),
  expected: z.string(),
  score: z.number(),
  drivers: z.array(z.object({ dimension: z.string(), value: z.string().nullable(), share: z.number(), excess: z.string() })),
  detected_at: z.string(),
  dismissed: z.object({ at: z.string(), reason: z.string().nullable(), by: z.string().nullable() }).nullable(),
});
type AnomalyOut = z.infer<typeof anomalyOut>;

const anomalyOf = (tz: string) => (a: Awaited<ReturnType<typeof scanAnomalies>>[number]): AnomalyOut => ({
  id: a.id,
  measure: a.measure,
  window: a.window_unit,
  window_start: formatInZone(tz, a.window_start),
  window_end: formatInZone(tz, a.window_end),
  group: a.group_value,
  actual: a.actual,
  expected: a.expected,
  score: a.score,
  drivers: a.drivers as AnomalyOut['drivers'],
  detected_at: a.detected_at.toISOString(),
  dismissed: a.dismissed_at ? { at: a.dismissed_at.toISOString(), reason: a.dismiss_reason, by: a.dismissed_by } : null,
});

/** GET /v1/analysis/anomalies (scan + list) and POST /v1/analysis/anomalies/:id/dismiss. */
export function registerAnomalyRoutes(app: App, deps: AnalysisRouteDeps) {
  const read = requireScope(deps.keys, 'read');
  app.get(
    '/v1/analysis/anomalies',
    {
      preHandler: read,
      schema: {
        tags,
        summary: 'Windows unusual for their weekday/hour (median and MAD of the same slot over the trailing 8 weeks), with their drivers; default the last 30 days',
        querystring: z.object({
          ...rangeShape(deps.defaultTz),
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
      const { from, to } = rangeOf(q, deps.clock.now(), 30);
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
        tags,
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
}
