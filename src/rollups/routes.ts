import { z } from 'zod';
import type { FastifyRequest } from 'fastify';
import type { App } from '../http/server.ts';
import { requireScope } from '../http/auth.ts';
import type { KeyService } from '../auth/service.ts';
import { bindingOf } from '../auth/binding.ts';
import type { RollupService } from './service.ts';
import { dimParam, filterShape, filtersOf, groupByParam, rfc3339, tzParam, windowParam } from './params.ts';
import { COUNT_MEASURES, DIMS } from './cubes.ts';

// Response shapes. Counts are JSON numbers, cost a decimal string (USD). A row's dimension keys
// come in DIMS order (zod writes an object's keys in its schema's order), then the measures.
const measuresShape = {
  ...(Object.fromEntries(COUNT_MEASURES.map((m) => [m, z.number()])) as Record<(typeof COUNT_MEASURES)[number], z.ZodNumber>),
  cost: z.string().describe('USD, decimal string'),
};
export const measuresSchema = z.object(measuresShape);
/** The dimensions a row is grouped by (`null`: events without that dimension); absent when not grouped by. */
const dimsShape = Object.fromEntries(DIMS.map((d) => [d, z.string().nullable().optional()])) as Record<(typeof DIMS)[number], z.ZodOptional<z.ZodNullable<z.ZodString>>>;
const windowShape = { window_start: z.string(), window_end: z.string() };
const usageResponse = z.object({ rows: z.array(z.object({ ...windowShape, ...dimsShape, ...measuresShape })), totals: measuresSchema });
const topMeasure = z.enum(['cost', 'tokens', 'requests']);
const topResponse = z.object({ by: dimParam, measure: topMeasure, rows: z.array(z.object({ rank: z.number().int(), ...dimsShape, ...measuresShape })) });
const topSeriesResponse = z.object({
  by: dimParam,
  measure: topMeasure,
  windows: z.array(z.object(windowShape)),
  series: z.array(z.object({ rank: z.number().int(), ...dimsShape, totals: measuresSchema, points: z.array(z.object({ ...windowShape, ...measuresShape })) })),
});


/** The query string's keys as sent (zod strips unknown ones, and we want to name them). */
export function rawQueryKeys(req: FastifyRequest): Record<string, true> {
  const i = req.url.indexOf('?');
  const out: Record<string, true> = {};
  if (i >= 0) for (const k of new URLSearchParams(req.url.slice(i + 1)).keys()) out[k] = true;
  return out;
}

export function registerUsageRoutes(app: App, deps: { keys: KeyService; rollups: RollupService; defaultTz: string }) {
  const read = requireScope(deps.keys, 'read');
  const base = {
    from: rfc3339('from'),
    to: rfc3339('to'),
    tz: tzParam(deps.defaultTz),
    ...filterShape,
  };

  app.get(
    '/v1/usage',
    {
      preHandler: read,
      schema: {
        tags: ['usage'],
        summary: 'LLM usage per window, grouped and filtered (from rollups)',
        description:
          'from inclusive, to exclusive, both on a 15-minute boundary. window_start/window_end carry the report zone offset. ' +
          'filter[dim]=v (repeat or comma-separate for several values). Keys bound to a team/project/subject see only theirs.',
        querystring: z.object({ ...base, window: windowParam.default('none'), group_by: groupByParam }),
        response: { 200: usageResponse },
      },
    },
    async (req) => {
      const q = req.query;
      return deps.rollups.usage(
        { from: q.from, to: q.to, tz: q.tz, window: q.window, groupBy: q.group_by, filters: filtersOf(q, rawQueryKeys(req)) },
        bindingOf(req.principal),
      );
    },
  );

  const topQuery = {
    ...base,
    by: dimParam.default('subject'),
    measure: topMeasure.default('cost'),
    limit: z.coerce.number().int().min(1).max(1000).default(10),
  };

  app.get(
    '/v1/usage/top',
    {
      preHandler: read,
      schema: {
        tags: ['usage'],
        summary: 'Top values of a dimension by cost, tokens or requests over [from, to)',
        description: 'tokens = input + cache read + cache write + output. Ties break by value, ascending.',
        querystring: z.object(topQuery),
        response: { 200: topResponse },
      },
    },
    async (req) => {
      const q = req.query;
      const rows = await deps.rollups.top(
        { from: q.from, to: q.to, tz: q.tz, by: q.by, measure: q.measure, limit: q.limit, filters: filtersOf(q, rawQueryKeys(req)) },
        bindingOf(req.principal),
      );
      return { by: q.by, measure: q.measure, rows };
    },
  );

  app.get(
    '/v1/usage/top/series',
    {
      preHandler: read,
      schema: {
        tags: ['usage'],
        summary: "The top N values' per-window series (zero-filled)",
        querystring: z.object({ ...topQuery, window: windowParam.default('day') }),
        response: { 200: topSeriesResponse },
      },
    },
    async (req) => {
      const q = req.query;
      const r = await deps.rollups.topSeries(
        { from: q.from, to: q.to, tz: q.tz, window: q.window, by: q.by, measure: q.measure, limit: q.limit, filters: filtersOf(q, rawQueryKeys(req)) },
        bindingOf(req.principal),
      );
      return { by: q.by, measure: q.measure, ...r };
    },
  );
}
