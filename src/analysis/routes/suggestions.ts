import { z } from 'zod';
import type { App } from '../../http/server.ts';
import { requireScope } from '../../http/auth.ts';
import { bindingOf } from '../../auth/binding.ts';
import { Money } from '../../shared/money.ts';
import { DAY, QUARTER_HOUR, ceilTo, formatInZone } from '../../shared/time.ts';
import { tzParam } from '../../rollups/params.ts';
import type { Binding } from '../../rollups/service.ts';
import type { Dim } from '../../rollups/cubes.ts';
import { idleKeySuggestions, modelSuggestions, outsizedSuggestions, type PriceFn, type UsageCell } from '../suggestions.ts';
import { errors, tags, type AnalysisRouteDeps } from './common.ts';

const suggestionsOut = z.object({
  from: z.string(),
  to: z.string(),
  total_estimated_monthly_savings: z.string(),
  data: z.array(z.object({ kind: z.string(), scope: z.string().nullable(), title: z.string(), evidence: z.record(z.string(), z.unknown()), estimated_monthly_savings: z.string() })),
});

type Scope = 'team' | 'project' | 'feature' | 'subject';

/** Savings advice over the last 30 days (keys idle against the 30 before), priced from the catalog. */
async function suggestions(deps: AnalysisRouteDeps, q: { group_by?: Scope; tz: string }, bind: Binding): Promise<z.infer<typeof suggestionsOut>> {
  const now = deps.clock.now();
  const to = new Date(ceilTo(now.getTime(), QUARTER_HOUR));
  const from = new Date(to.getTime() - 30 * DAY);
  const before = new Date(from.getTime() - 30 * DAY);
  const scopeDims: Dim[] = q.group_by ? [q.group_by] : [];
  const scopeOf = (r: object) => (q.group_by ? (((r as Record<string, unknown>)[q.group_by] as string | null) ?? null) : null);
  const dims: Dim[] = [...new Set<Dim>([...scopeDims, 'feature', 'provider', 'model'])];
  const base = { tz: 'UTC', window: 'none' as const, filters: {} };
  const [cells, keysNow, keysBefore, subjects] = await Promise.all([
    deps.rollups.usage({ ...base, from, to, groupBy: dims }, bind),
    deps.rollups.usage({ ...base, from, to, groupBy: [...scopeDims, 'api_key'] }, bind),
    deps.rollups.usage({ ...base, from: before, to: from, groupBy: [...scopeDims, 'api_key'] }, bind),
    deps.rollups.usage({ ...base, from, to, groupBy: [...new Set<Dim>([...scopeDims, 'subject'])] }, bind),
  ]);
  const pricing = deps.pricing;
  const price: PriceFn | null = pricing ? (r) => pricing.engine.price({ ...r, time: now }) : null;
  const usageCells: UsageCell[] = cells.rows.map((r) => ({ ...(r as unknown as UsageCell), scope: scopeOf(r), feature: r.feature ?? null, provider: r.provider ?? null, model: r.model ?? null }));
  const recent = new Set(keysNow.rows.map((r) => JSON.stringify([scopeOf(r), r.api_key ?? null])));
  const data = [
    ...(price ? modelSuggestions(usageCells, price) : []),
    ...idleKeySuggestions(keysBefore.rows.map((r) => ({ scope: scopeOf(r), api_key: r.api_key ?? null, requests: r.requests, cost: r.cost })), recent),
    ...(q.group_by === 'subject' ? [] : outsizedSuggestions(subjects.rows.map((r) => ({ scope: scopeOf(r), subject: r.subject ?? null, cost: r.cost, requests: r.requests })))),
  ].sort((a, b) => new Money(b.estimated_monthly_savings).comparedTo(a.estimated_monthly_savings));
  return {
    from: formatInZone(q.tz, from),
    to: formatInZone(q.tz, to),
    total_estimated_monthly_savings: data.reduce((s, d) => s.plus(d.estimated_monthly_savings), new Money(0)).toFixed(2),
    data,
  };
}

/** GET /v1/analysis/suggestions. */
export function registerSuggestionsRoute(app: App, deps: AnalysisRouteDeps) {
  app.get(
    '/v1/analysis/suggestions',
    {
      preHandler: requireScope(deps.keys, 'read'),
      schema: {
        tags,
        summary: 'Savings advice with evidence, each priced from the catalog over the last 30 days (taken as a month)',
        querystring: z.object({ group_by: z.enum(['team', 'project', 'feature', 'subject']).optional(), tz: tzParam(deps.defaultTz) }),
        response: { 200: suggestionsOut, ...errors },
      },
    },
    async (req) => suggestions(deps, req.query, bindingOf(req.principal)),
  );
}
