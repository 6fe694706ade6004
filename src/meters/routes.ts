import { z } from 'zod';
import type { App } from '../http/server.ts';
import { requireScope } from '../http/auth.ts';
import type { KeyService } from '../auth/service.ts';
import { badRequest } from '../shared/errors.ts';
import { rfc3339Param } from '../http/params.ts';
import { isValidZone } from '../shared/time.ts';
import type { Clock } from '../shared/clock.ts';
import { bindingOf, scopeRead } from '../auth/binding.ts';
import { AGGREGATIONS, type Meter } from './definitions.ts';
import type { MeterService } from './service.ts';

/** A meter definition as the API shows it. */
const meterOut = z.object({
  slug: z.string(),
  event_type: z.string(),
  aggregation: z.enum(AGGREGATIONS),
  value_property: z.string().nullable(),
  group_by: z.record(z.string(), z.string()).describe('group name → "$.path" | "$subject" | "$source"'),
  description: z.string().nullable(),
  origin: z.enum(['builtin', 'config', 'api']),
  kind: z.enum(['events', 'media', 'resource']),
  created_at: z.string().nullable(),
});
const toMeterOut = (m: Meter): z.infer<typeof meterOut> => ({
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

const WINDOWS = ['hour', 'day', 'week', 'month', 'none'] as const;

/** GET /v1/meters/:slug/query: a row per window and group with data; group values are extra keys. */
const queryOut = z.object({
  meter: z.string(),
  from: z.string(),
  to: z.string(),
  window: z.enum(WINDOWS),
  tz: z.string(),
  rows: z.array(
    z
      .object({ window_start: z.string(), window_end: z.string(), value: z.string().describe('decimal string (an integer one for counts)') })
      .catchall(z.string().nullable().describe('the value of a group_by group (null: the event had none)')),
  ),
});

const slugParam = z.object({ slug: z.string() });

export function registerMeterRoutes(app: App, deps: { keys: KeyService; meters: MeterService; clock: Clock; defaultTz: string }) {
  const { meters } = deps;
  app.get(
    '/v1/meters',
    { preHandler: requireScope(deps.keys, 'read'), schema: { tags: ['meters'], summary: 'List meters (built-in, config and API-defined)', response: { 200: z.object({ data: z.array(meterOut) }) } } },
    async () => ({ data: (await meters.list()).map(toMeterOut) }),
  );

  app.get(
    '/v1/meters/:slug',
    { preHandler: requireScope(deps.keys, 'read'), schema: { tags: ['meters'], summary: 'One meter definition', params: slugParam, response: { 200: meterOut } } },
    async (req) => toMeterOut(await meters.get(req.params.slug)),
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
        response: { 201: meterOut },
      },
    },
    async (req, reply) => reply.status(201).send(toMeterOut(await meters.create(req.body))),
  );

  app.delete(
    '/v1/meters/:slug',
    { preHandler: requireScope(deps.keys, 'admin'), schema: { tags: ['meters'], summary: 'Delete an API-defined meter and its aggregates', params: slugParam, response: { 204: z.undefined().describe('No content') } } },
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
        params: slugParam,
        response: { 200: queryOut },
        querystring: z
          .object({
            from: rfc3339Param('from').optional(),
            to: rfc3339Param('to').optional(),
            window: z.enum(WINDOWS).default('none'),
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
