import { z } from 'zod';
import type { App } from '../http/server.ts';
import { requireScope } from '../http/auth.ts';
import type { KeyService } from '../auth/service.ts';
import { badRequest } from '../shared/errors.ts';
import { rfc3339Param } from '../http/params.ts';
import { isValidZone } from '../shared/time.ts';
import type { Clock } from '../shared/clock.ts';
import { bindingOf, scopeRead } from '../auth/binding.ts';
import type { Meter } from './definitions.ts';
import type { MeterService } from './service.ts';

const meterOut = (m: Meter) => ({
  slug: m.slug,
  event_type: m.event_type,
  aggregation: m.aggregation,
  value_property: m.value_property,
  group_by: m.group_by,
  description: m.description,
  origin: m.origin,
  kind: m.kind,
  created_at: m.created_at ?? null,
});


export function registerMeterRoutes(app: App, deps: { keys: KeyService; meters: MeterService; clock: Clock; defaultTz: string }) {
  const { meters } = deps;
  app.get(
    '/v1/meters',
    { preHandler: requireScope(deps.keys, 'read'), schema: { tags: ['meters'], summary: 'List meters (built-in, config and API-defined)' } },
    async () => ({ data: (await meters.list()).map(meterOut) }),
  );

  app.get(
    '/v1/meters/:slug',
    { preHandler: requireScope(deps.keys, 'read'), schema: { tags: ['meters'], summary: 'One meter definition', params: z.object({ slug: z.string() }) } },
    async (req) => meterOut(await meters.get(req.params.slug)),
  );

  app.post(
    '/v1/meters',
    {
      preHandler: requireScope(deps.keys, 'admin'),
      schema: {
        tags: ['meters'],
        summary: 'Define a meter; existing events are backfilled into it',
        description: '{slug, event_type, aggregation: sum|count|max|min|avg|unique_count|latest, value_property: "$.path", group_by: {name: "$.path" | "$subject" | "$source"}}',
        body: z.record(z.string(), z.unknown()),
      },
    },
    async (req, reply) => reply.status(201).send(meterOut(await meters.create(req.body))),
  );

  app.delete(
    '/v1/meters/:slug',
    { preHandler: requireScope(deps.keys, 'admin'), schema: { tags: ['meters'], summary: 'Delete an API-defined meter and its aggregates', params: z.object({ slug: z.string() }) } },
    async (req, reply) => {
      await meters.remove(req.params.slug);
      return reply.status(204).send();
    },
  );

  app.get(
    '/v1/meters/:slug/query',
    {
      preHandler: requireScope(deps.keys, 'read'),
      schema: {
        tags: ['meters'],
        summary: 'Meter values per window and group',
        description:
          'from (inclusive, default to − 30 days), to (exclusive, default now), window=hour|day|week|month|none, tz (IANA), group_by=a,b, ' +
          'filter[group]=v (repeat or comma-separate), stat=avg|min|max for gauge meters. Rows: {window_start, window_end, <groups>, value}.',
        params: z.object({ slug: z.string() }),
        querystring: z
          .object({
            from: rfc3339Param('from').optional(),
            to: rfc3339Param('to').optional(),
            window: z.enum(['hour', 'day', 'week', 'month', 'none']).default('none'),
            tz: z.string().refine(isValidZone, 'must be an IANA time zone such as Asia/Seoul').optional(),
            group_by: z.string().optional(),
            stat: z.enum(['avg', 'min', 'max']).optional(),
          })
          .catchall(z.union([z.string(), z.array(z.string())])),
      },
    },
    async (req) => {
      const q = req.query as Record<string, unknown> & { from?: Date; to?: Date; window: 'hour' | 'day' | 'week' | 'month' | 'none'; tz?: string; group_by?: string; stat?: 'avg' | 'min' | 'max' };
      const m = await meters.get(req.params.slug);
      const groups = meters.groupsOf(m);
      let filters: Record<string, string[]> = {};
      for (const [k, v] of Object.entries(q)) {
        if (['from', 'to', 'window', 'tz', 'group_by', 'stat'].includes(k)) continue;
        const f = /^filter\[([a-z][a-z0-9_]*)\]$/.exec(k);
        if (!f) throw badRequest('INVALID_FIELD', `unknown query parameter "${k}"; filters are filter[<group>]=value`, k);
        const vals = (Array.isArray(v) ? v : [v]).flatMap((s) => String(s).split(',')).filter((s) => s !== '');
        if (vals.length) filters[f[1]!] = vals;
      }
      filters = scopeRead(req.principal, filters, { dims: groups, what: `meter "${m.slug}"` });
      const to = q.to ?? deps.clock.now();
      const from = q.from ?? new Date(to.getTime() - 30 * 86_400_000);
      const groupBy = q.group_by ? [...new Set(q.group_by.split(',').map((s) => s.trim()).filter(Boolean))] : [];
      const tz = q.tz ?? deps.defaultTz;
      const bind = bindingOf(req.principal);
      const rows = await meters.query(m.slug, { from, to, window: q.window, tz, groupBy, filters, stat: q.stat, bind });
      return { meter: m.slug, from: from.toISOString(), to: to.toISOString(), window: q.window, tz, rows };
    },
  );
}
