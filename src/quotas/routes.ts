import { z } from 'zod';
import type { App } from '../http/server.ts';
import { requireScope } from '../http/auth.ts';
import type { KeyService } from '../auth/service.ts';
import type { Principal } from '../auth/keys.ts';
import { bindWriteOrThrow, canReadRow } from '../auth/binding.ts';
import { ApiError, notFound } from '../shared/errors.ts';
import type { Entitlement } from './store.ts';
import type { QuotaService, Target } from './service.ts';
import { decimal, tz, ident, period, filter, thresholds, rfc3339, entitlementOut, grantOut, valueOut, checkOut, targetShape, idParam } from './schemas.ts';

const dates = (o: object) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v instanceof Date ? v.toISOString() : v]));

/**
 * The one binding rule (auth/binding.ts) over an entitlement: its subject, team and the project of
 * its filter. A team-bound key also reads its members' subject entitlements (they carry no team).
 */
function canRead(p: Principal | undefined, e: Entitlement): boolean {
  if (!p) return false;
  const row = { subject: e.subject, team: e.subject && !p.subject ? p.team : e.team, project: e.filter.project ?? null };
  return canReadRow(p, row);
}

/** The target of a check/reservation: what the body names, narrowed by the key's binding. */
function targetOf(p: Principal | undefined, b: { subject?: string; team?: string; api_key?: string }): Target {
  const bound = bindWriteOrThrow(p, { subject: b.subject, team: b.team }, { fields: ['subject', 'team'] });
  const t: Target = { subject: bound.subject ?? null, team: bound.team ?? null, api_key: b.api_key ?? null };
  if (!t.subject && !t.team && !t.api_key) throw new ApiError({ type: 'invalid_request', code: 'MISSING_TARGET', message: 'name a subject, team or api_key', param: 'subject' });
  return t;
}

interface RouteDeps {
  quotas: QuotaService;
  defaultTz: string;
  admin: ReturnType<typeof requireScope>;
  read: ReturnType<typeof requireScope>;
  gate: ReturnType<typeof requireScope>;
  readable: (p: Principal | undefined, id: string) => Promise<Entitlement>;
}

export function registerQuotaRoutes(app: App, deps: { keys: KeyService; quotas: QuotaService; defaultTz: string }) {
  const { quotas } = deps;
  const readable = async (p: Principal | undefined, id: string) => {
    const e = await quotas.getEntitlement(id);
    if (!canRead(p, e)) throw notFound(`entitlement ${id}`);
    return e;
  };
  const d: RouteDeps = { quotas, defaultTz: deps.defaultTz, admin: requireScope(deps.keys, 'admin'), read: requireScope(deps.keys, 'read'), gate: requireScope(deps.keys, 'gateway'), readable };
  entitlementRoutes(app, d);
  grantAndValueRoutes(app, d);
  checkRoutes(app, d);
}

/** /v1/entitlements: create, list, stats, one, patch, delete. */
function entitlementRoutes(app: App, { quotas, admin, read, readable, ...deps }: RouteDeps) {
  app.post(
    '/v1/entitlements',
    {
      preHandler: admin,
      schema: {
        tags: ['quotas'],
        summary: 'Create an entitlement (a quota or, on llm_cost with a filter, a budget) for a subject, team or API key',
        body: z
          .object({
            subject: ident.optional(), team: ident.optional(), api_key: ident.optional(),
            meter: ident, filter: filter.optional(), period, tz: tz.default(deps.defaultTz), week_start: z.number().int().min(1).max(7).optional(),
            thresholds: thresholds.default({ warning: '0.9', critical: '0.95', block: '1' }), purchase_url: z.string().url().nullish(), enabled: z.boolean().optional(),
          })
          .strict()
          .refine((b) => [b.subject, b.team, b.api_key].filter(Boolean).length === 1, { message: 'name exactly one of subject, team, api_key', path: ['subject'] }),
        response: { 201: entitlementOut },
      },
    },
    async (req, reply) => reply.status(201).send(dates(await quotas.createEntitlement(req.body as any)) as any),
  );

  app.get(
    '/v1/entitlements',
    {
      preHandler: read,
      schema: {
        tags: ['quotas'],
        summary: 'List entitlements (a bound key sees only its own)',
        querystring: z.object({ subject: ident.optional(), team: ident.optional(), api_key: ident.optional(), meter: ident.optional(), limit: z.coerce.number().int().min(1).max(1000).default(100) }),
        response: { 200: z.object({ data: z.array(entitlementOut) }) },
      },
    },
    async (req) => {
      const p = req.principal;
      const q = { ...req.query, subject: p?.subject ?? req.query.subject, team: p?.team && !p.subject ? (req.query.subject ? undefined : p.team) : req.query.team };
      const rows = (await quotas.list(q)).filter((e) => canRead(p, e));
      return { data: rows.map((e) => dates(e) as any) };
    },
  );

  app.get(
    '/v1/entitlements/stats',
    {
      preHandler: admin,
      schema: {
        tags: ['quotas'],
        summary: 'Admin stats over the subjects of a meter: overview, usage distribution, top 100 (from each entitlement\'s last computed figures)',
        querystring: z.object({ meter: ident.default('llm_tokens'), tz: tz.optional() }),
        response: {
          200: z.object({
            overview: z.object({ subjects: z.number(), active_subjects: z.number(), used: z.string(), purchased: z.string(), average_used: z.string() }),
            distribution: z.array(z.object({ bucket: z.string(), subjects: z.number() })),
            top: z.array(z.object({ subject: z.string(), used: z.string(), available: z.string(), percent: z.string().nullable() })),
          }),
        },
      },
    },
    async (req) => quotas.stats(req.query.meter),
  );

  app.get(
    '/v1/entitlements/:id',
    { preHandler: read, schema: { tags: ['quotas'], summary: 'One entitlement', params: idParam, response: { 200: entitlementOut } } },
    async (req) => dates(await readable(req.principal, req.params.id)) as any,
  );

  app.patch(
    '/v1/entitlements/:id',
    {
      preHandler: admin,
      schema: {
        tags: ['quotas'],
        summary: 'Change thresholds, zone, period, purchase_url, filter or enabled',
        params: idParam,
        body: z.object({ thresholds: thresholds.optional(), purchase_url: z.string().url().nullable().optional(), enabled: z.boolean().optional(), tz: tz.optional(), period: period.optional(), week_start: z.number().int().min(1).max(7).optional(), filter: filter.optional() }).strict(),
        response: { 200: entitlementOut },
      },
    },
    async (req) => dates(await quotas.updateEntitlement(req.params.id, req.body as any)) as any,
  );

  app.delete(
    '/v1/entitlements/:id',
    { preHandler: admin, schema: { tags: ['quotas'], summary: 'Delete an entitlement', params: idParam, response: { 200: z.object({ id: z.string(), deleted: z.boolean() }) } } },
    async (req) => {
      await quotas.deleteEntitlement(req.params.id);
      return { id: req.params.id, deleted: true };
    },
  );
}

/** Grants (create, list, void), /value and /history. */
function grantAndValueRoutes(app: App, { quotas, admin, read, readable }: RouteDeps) {
  app.post(
    '/v1/entitlements/:id/grants',
    {
      preHandler: admin,
      schema: {
        tags: ['quotas'],
        summary: 'Grant an amount (never edited; void it instead)',
        params: idParam,
        body: z.object({ amount: decimal, kind: z.enum(['free', 'purchased', 'promotional']), priority: z.number().int().min(0).max(1_000_000).default(10), effective_at: rfc3339.optional(), expires_at: rfc3339.nullish(), recurring: period.nullish() }).strict(),
        response: { 201: grantOut },
      },
    },
    async (req, reply) => reply.status(201).send(dates(await quotas.createGrant(req.params.id, req.body as any)) as any),
  );

  app.get(
    '/v1/entitlements/:id/grants',
    { preHandler: read, schema: { tags: ['quotas'], summary: "An entitlement's grants, voided ones included", params: idParam, response: { 200: z.object({ data: z.array(grantOut) }) } } },
    async (req) => {
      await readable(req.principal, req.params.id);
      return { data: (await quotas.grants(req.params.id)).map((g) => dates(g) as any) };
    },
  );

  app.post(
    '/v1/entitlements/:id/grants/:gid/void',
    { preHandler: admin, schema: { tags: ['quotas'], summary: 'Void a grant from now on (its past burns stay)', params: z.object({ id: z.string(), gid: z.string() }), response: { 200: grantOut } } },
    async (req) => dates(await quotas.voidGrant(req.params.id, req.params.gid)) as any,
  );

  app.get(
    '/v1/entitlements/:id/value',
    { preHandler: read, schema: { tags: ['quotas'], summary: 'Usage, available, balance, percent, level, estimated turns, per-grant burn', params: idParam, response: { 200: valueOut } } },
    async (req) => {
      await readable(req.principal, req.params.id);
      return quotas.value(req.params.id);
    },
  );

  app.get(
    '/v1/entitlements/:id/history',
    {
      preHandler: read,
      schema: {
        tags: ['quotas'],
        summary: "The current period's usage and balance per window, with each grant's burn",
        params: idParam,
        querystring: z.object({ window: z.enum(['hour', 'day', 'week', 'month']).default('day') }),
        response: { 200: z.object({ id: z.string(), window: z.string(), rows: z.array(z.object({ window_start: z.string(), window_end: z.string(), usage: z.string(), balance: z.string().nullable(), burns: z.array(z.object({ grant_id: z.string(), amount: z.string() })) })) }) },
      },
    },
    async (req) => {
      await readable(req.principal, req.params.id);
      return quotas.history(req.params.id, req.query.window);
    },
  );
}

/** /v1/check and /v1/reservations (create, settle, release). */
function checkRoutes(app: App, { quotas, gate }: RouteDeps) {
  app.post(
    '/v1/check',
    {
      preHandler: gate,
      schema: { tags: ['quotas'], summary: 'May this subject/team/key use `amount` more of a meter? (advisory; reserve to hold room)', body: z.object({ ...targetShape, amount: decimal.optional() }).strict(), response: { 200: checkOut } },
    },
    async (req) => {
      const b = req.body;
      return quotas.check(targetOf(req.principal, b), b.meter, b.amount);
    },
  );

  app.post(
    '/v1/reservations',
    {
      preHandler: gate,
      schema: {
        tags: ['quotas'],
        summary: 'Hold `amount` of room before calling a provider; settle or delete it after (expires after ttl_s)',
        body: z.object({ ...targetShape, amount: decimal, ttl_s: z.number().int().min(1).max(86_400).optional() }).strict(),
        response: { 201: checkOut.extend({ id: z.string().nullable() }) },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const r = await quotas.reserve(targetOf(req.principal, b), b.meter, b.amount, b.ttl_s);
      if (!r.out) return reply.status(201).send({ id: null, entitlement_id: null, allowed: true, level: 'ok', balance: null, remaining: null, percent: null, estimated_turns: null, resets_at: null, purchase_url: null });
      return reply.status(201).send({ ...r.out, id: r.out.allowed ? r.id : null });
    },
  );

  app.post(
    '/v1/reservations/:id/settle',
    {
      preHandler: gate,
      schema: { tags: ['quotas'], summary: 'Settle a reservation to what was actually used', params: idParam, body: z.object({ actual: decimal }).strict(), response: { 200: z.object({ id: z.string(), settled: z.number() }) } },
    },
    async (req) => {
      const n = await quotas.settle(req.params.id, req.body.actual);
      if (!n) throw notFound(`open reservation ${req.params.id}`);
      return { id: req.params.id, settled: n };
    },
  );

  app.delete(
    '/v1/reservations/:id',
    { preHandler: gate, schema: { tags: ['quotas'], summary: 'Release a reservation (nothing was used)', params: idParam, response: { 200: z.object({ id: z.string(), released: z.number() }) } } },
    async (req) => {
      const n = await quotas.release(req.params.id);
      if (!n) throw notFound(`open reservation ${req.params.id}`);
      return { id: req.params.id, released: n };
    },
  );
}
