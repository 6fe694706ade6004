import { z } from 'zod';
import type { App } from '../http/server.ts';
import { requireScope } from '../http/auth.ts';
import type { KeyService } from '../auth/service.ts';
import { badRequest, notFound } from '../shared/errors.ts';
import { DAY_MS, parseDay, type CollectorService } from './service.ts';
import type { CollectorName } from './providers.ts';
import type { ReconRow } from './reconcile.ts';

const accountOut = z.object({
  account: z.string(),
  status: z.enum(['ok', 'failed']),
  events: z.number(),
  duplicates: z.number(),
  corrections: z.number(),
  rows: z.number(),
  cost: z.string(),
  error: z.string().optional(),
});

const runOut = z.object({
  status: z.enum(['ok', 'failed', 'partial']),
  events: z.number(),
  duplicates: z.number(),
  corrections: z.number(),
  cost: z.string(),
  from: z.string(),
  to: z.string(),
  accounts: z.array(accountOut),
});

export const collectorInfo = z.object({
  name: z.string(),
  enabled: z.boolean(),
  schedule: z.string().nullable(),
  tz: z.string().nullable(),
  data_lag: z.string(),
  last_run: z.object({ started_at: z.string(), finished_at: z.string().nullable(), window_from: z.string(), window_to: z.string(), account: z.string() }).nullable(),
  next_run: z.string().nullable(),
  last_status: z.string().nullable(),
  last_error: z.string().nullable(),
  rows: z.number(),
});
export type CollectorInfo = z.infer<typeof collectorInfo>;

/** `GET /v1/collectors`, `POST /v1/collectors/:name/run {date} | {from, to}` (admin). */
export function registerCollectorRoutes(app: App, deps: { keys: KeyService; collectors: CollectorService; list: () => Promise<CollectorInfo[]> }) {
  app.get(
    '/v1/collectors',
    { preHandler: requireScope(deps.keys, 'read'), schema: { tags: ['collectors'], summary: 'Collectors with their schedule, last run and data lag', response: { 200: z.object({ data: z.array(collectorInfo) }) } } },
    async () => ({ data: await deps.list() }),
  );

  app.post(
    '/v1/collectors/:name/run',
    {
      preHandler: requireScope(deps.keys, 'admin'),
      schema: {
        tags: ['collectors'],
        summary: 'Pull a provider usage report now for one UTC day ({date}) or days [from, to) ({from, to}); re-runs never double count',
        params: z.object({ name: z.string() }),
        body: z.union([z.object({ date: z.string() }).strict(), z.object({ from: z.string(), to: z.string() }).strict()]),
        response: { 200: runOut },
      },
    },
    async (req) => {
      const name = req.params.name;
      if (name !== 'openai' && name !== 'anthropic') throw notFound(`collector "${name}"`);
      const b = req.body as { date?: string; from?: string; to?: string };
      let from: Date;
      let to: Date;
      if (b.date !== undefined) {
        from = parseDay(b.date, 'date');
        to = new Date(from.getTime() + DAY_MS);
      } else {
        from = parseDay(b.from!, 'from');
        to = parseDay(b.to!, 'to');
        if (to.getTime() <= from.getTime()) throw badRequest('INVALID_RANGE', '`to` (exclusive) must be after `from`', 'to');
      }
      const r = await deps.collectors.run(name as CollectorName, from, to);
      const { collector: _c, ...out } = r;
      return out;
    },
  );
}

const side = z.object({ requests: z.string().nullable(), input_tokens: z.string().nullable(), cache_read_tokens: z.string().nullable(), cache_write_tokens: z.string().nullable(), output_tokens: z.string().nullable(), cost: z.string().nullable() });

/** `GET /v1/reconciliation?date&provider[&tolerance]` (read). */
export function registerReconciliationRoutes(app: App, deps: { keys: KeyService; run: (date: Date, provider: string, tolerance: number) => Promise<ReconRow[]>; tolerance: number }) {
  app.get(
    '/v1/reconciliation',
    {
      preHandler: requireScope(deps.keys, 'read'),
      schema: {
        tags: ['collectors'],
        summary: 'Per model, what the gateway and SDKs recorded against what the provider reports for one UTC day',
        querystring: z.object({ date: z.string(), provider: z.enum(['openai', 'anthropic']), tolerance: z.coerce.number().min(0).max(1).optional() }),
        response: {
          200: z.object({
            date: z.string(),
            provider: z.string(),
            tolerance: z.number(),
            within_tolerance: z.boolean(),
            rows: z.array(z.object({ model: z.string(), recorded: side, reported: side, difference: side, within_tolerance: z.boolean() })),
          }),
        },
      },
    },
    async (req) => {
      const date = parseDay(req.query.date, 'date');
      const tolerance = req.query.tolerance ?? deps.tolerance;
      const rows = await deps.run(date, req.query.provider, tolerance);
      return { date: req.query.date, provider: req.query.provider, tolerance, within_tolerance: rows.every((r) => r.within_tolerance), rows };
    },
  );
}
