import { z } from 'zod';
import type { App } from '../../http/server.ts';
import { requireScope } from '../../http/auth.ts';
import { bindingOf } from '../../auth/binding.ts';
import { badRequest } from '../../shared/errors.ts';
import { Money } from '../../shared/money.ts';
import { formatInZone } from '../../shared/time.ts';
import { dimParam } from '../../rollups/params.ts';
import type { Binding, UsageRow } from '../../rollups/service.ts';
import type { Dim } from '../../rollups/cubes.ts';
import { tokensOf } from '../series.ts';
import { latencyKey, throughputOf } from '../latency.ts';
import { errors, group, rangeOf, rangeShape, repeated, tags, type AnalysisRouteDeps } from './common.ts';

const efficiencyOut = z.object({
  from: z.string(),
  to: z.string(),
  overall: z.object({
    requests: z.number(),
    cost: z.string(),
    cost_per_request: z.string().nullable(),
    active_user_hours: z.number(),
    cost_per_user_hour: z.string().nullable(),
    video_minutes: z.number(),
    cost_per_video_minute: z.string().nullable(),
    tokens_per_second: z.number().nullable(),
    latency_sample: z.object({ events_read: z.number(), with_latency: z.number(), complete: z.boolean() }),
  }),
  rows: z.array(
    z.object({
      group,
      requests: z.number(),
      cost: z.string(),
      cost_per_request: z.string().nullable(),
      tokens_per_request: z.number().nullable(),
      output_share: z.number().nullable(),
      cache_read_share: z.number().nullable(),
      tokens_per_second: z.number().nullable(),
    }),
  ),
});

/** cost ÷ n to 8 places; null for n = 0. */
const per = (cost: string | Money, n: number) => (n > 0 ? new Money(cost).div(n).toDecimalPlaces(8).toFixed() : null);

/** One group's row: cost and tokens per request, output and cache-read shares, tokens per second. */
function efficiencyRow(r: UsageRow, groupBy: Dim[], speed: Awaited<ReturnType<typeof throughputOf>> | null) {
  const tokens = tokensOf(r);
  const prompt = r.input_tokens + r.cache_read_tokens + r.cache_write_tokens;
  return {
    group: Object.fromEntries(groupBy.map((d) => [d, (r[d] as string | null | undefined) ?? null])),
    requests: r.requests,
    cost: r.cost,
    cost_per_request: per(r.cost, r.requests),
    tokens_per_request: r.requests ? Math.round(tokens / r.requests) : null,
    output_share: tokens ? Math.round((r.output_tokens / tokens) * 1000) / 1000 : null,
    cache_read_share: prompt ? Math.round((r.cache_read_tokens / prompt) * 1000) / 1000 : null,
    tokens_per_second: speed?.byGroup.get(latencyKey(groupBy.map((d) => r[d] as string | null | undefined)))?.tokens_per_second ?? null,
  };
}

async function efficiency(deps: AnalysisRouteDeps, q: { from?: Date; to?: Date; tz: string; group_by?: string[] }, bind: Binding): Promise<z.infer<typeof efficiencyOut>> {
  const { from, to } = rangeOf(q, deps.clock.now(), 30);
  const groupBy = (q.group_by?.length ? q.group_by : ['model', 'feature']) as Dim[];
  for (const d of groupBy) if (!dimParam.safeParse(d).success) throw badRequest('INVALID_FIELD', `unknown dimension "${d}"`, 'group_by');
  const [byGroup, perUserHour, video, speed] = await Promise.all([
    deps.rollups.usage({ from, to, tz: q.tz, window: 'none', groupBy, filters: {} }, bind),
    deps.rollups.usage({ from, to, tz: q.tz, window: 'hour', groupBy: ['subject'], filters: {} }, bind),
    deps.meters.query('video_minutes', { from, to, tz: q.tz, window: 'none', groupBy: [], filters: {}, bind }).catch(() => []),
    // Latency is not in the rollups: a bounded read of the raw events (src/analysis/latency.ts).
    deps.events ? throughputOf(deps.events, { from, to, groupBy, bind }) : null,
  ]);
  const userHours = perUserHour.rows.filter((r) => r.subject && r.requests > 0).length;
  const minutes = video.reduce((s, r) => s + Number(r.value), 0);
  const totals = byGroup.totals;
  return {
    from: formatInZone(q.tz, from),
    to: formatInZone(q.tz, to),
    overall: {
      requests: totals.requests,
      cost: totals.cost,
      cost_per_request: per(totals.cost, totals.requests),
      active_user_hours: userHours,
      cost_per_user_hour: per(totals.cost, userHours),
      video_minutes: minutes,
      cost_per_video_minute: per(totals.cost, minutes),
      tokens_per_second: speed?.overall.tokens_per_second ?? null,
      latency_sample: { events_read: speed?.read ?? 0, with_latency: speed?.overall.events ?? 0, complete: speed?.complete ?? false },
    },
    rows: byGroup.rows.map((r) => efficiencyRow(r, groupBy, speed)).sort((a, b) => new Money(b.cost).comparedTo(a.cost)),
  };
}

/** GET /v1/analysis/efficiency. */
export function registerEfficiencyRoute(app: App, deps: AnalysisRouteDeps) {
  app.get(
    '/v1/analysis/efficiency',
    {
      preHandler: requireScope(deps.keys, 'read'),
      schema: {
        tags,
        summary: 'Efficiency: cost and tokens per request and output tokens per second by model and feature; cost per active user-hour and per video-minute overall (default: the last 30 days)',
        querystring: z.object({ ...rangeShape(deps.defaultTz), group_by: repeated.optional() }),
        response: { 200: efficiencyOut, ...errors },
      },
    },
    async (req) => efficiency(deps, req.query, bindingOf(req.principal)),
  );
}
