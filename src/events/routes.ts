import { z } from 'zod';
import type { App } from '../http/server.ts';
import { requireScope } from '../http/auth.ts';
import type { KeyService } from '../auth/service.ts';
import { scopeRead, scopeReadOne } from '../auth/binding.ts';
import { ApiError, badRequest } from '../shared/errors.ts';
import type { EventService } from './service.ts';
import type { EventStore } from './store.ts';
import { rfc3339Param } from '../http/params.ts';
import { moneyString } from '../shared/money.ts';
import { inSupportedRange } from '../shared/time.ts';

const ACCEPTED_TYPES = new Set(['application/json', 'application/cloudevents+json', 'application/cloudevents-batch+json']);

const ingestResponse = z.object({
  accepted: z.number().int(),
  duplicates: z.number().int(),
  rejected: z.array(z.object({ index: z.number().int(), id: z.string().nullable(), error: z.string() })),
});

function encodeCursor(time: Date, seq: string): string {
  return Buffer.from(`${new Date(time).toISOString()}|${seq}`).toString('base64url');
}
function decodeCursor(c: string): { time: Date; seq: string } {
  const [t, seq] = Buffer.from(c, 'base64url').toString().split('|');
  const time = new Date(t ?? '');
  if (!seq || !/^\d{1,18}$/.test(seq) || Number.isNaN(time.getTime()) || !inSupportedRange(time)) throw badRequest('INVALID_CURSOR', 'cursor is not one this API returned', 'cursor');
  return { time, seq };
}

/** A stored event as GET /v1/events lists it: the CloudEvent, when it arrived and its pricing. */
const listedEvent = z.object({
  specversion: z.literal('1.0'),
  id: z.string(),
  source: z.string(),
  type: z.string(),
  subject: z.string().nullable(),
  time: z.string(),
  data: z.unknown(),
  received_at: z.string(),
  cost: z.string().nullable().describe('USD, decimal string'),
  cost_source: z.string().nullable(),
  computed_cost: z.string().nullable(),
  price: z.unknown(),
  unpriced: z.boolean(),
  estimated: z.boolean(),
});

const rejectedEvent = z.object({
  received_at: z.string(),
  source: z.string().nullable(),
  id: z.string().nullable(),
  index: z.number().int().describe("the event's index in its batch"),
  error: z.string(),
  event: z.unknown().describe('the event as received (a storable copy; bodies over 64 KiB truncated)'),
});

type Deps = { keys: KeyService; events: EventService; store: EventStore };

export function registerEventRoutes(app: App, deps: Deps) {
  registerIngestRoute(app, deps);
  registerListRoute(app, deps);
  registerRejectedRoute(app, deps);
}

function registerIngestRoute(app: App, deps: Deps) {
  app.post(
    '/v1/events',
    {
      preHandler: requireScope(deps.keys, 'ingest'),
      // Strings and nesting are judged event by event (validateEvent): one bad event is rejected, the rest stored.
      config: { ownStrings: true },
      schema: {
        tags: ['events'],
        summary: 'Ingest one CloudEvent or a batch',
        description:
          'Accepts application/cloudevents+json, application/cloudevents-batch+json, application/json (object or array). ' +
          '(source, id) dedupes forever; a 202 means the accepted events are committed.',
        response: { 202: ingestResponse },
      },
    },
    async (req, reply) => {
      const ct = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (!ACCEPTED_TYPES.has(ct)) {
        throw new ApiError({ type: 'unsupported_media_type', code: 'UNSUPPORTED_CONTENT_TYPE', message: `content type ${JSON.stringify(ct)} is not accepted; use application/cloudevents+json, application/cloudevents-batch+json or application/json` }
        );
      }
      const body = req.body;
      if (ct === 'application/cloudevents-batch+json' && !Array.isArray(body)) {
        throw badRequest('INVALID_BATCH', 'an application/cloudevents-batch+json body must be a JSON array of events', 'body');
      }
      if (ct === 'application/cloudevents+json' && (Array.isArray(body) || body === null || typeof body !== 'object')) {
        throw badRequest('INVALID_EVENT', 'an application/cloudevents+json body must be one JSON object; send arrays as application/cloudevents-batch+json', 'body');
      }
      if (body === null || typeof body !== 'object') throw badRequest('INVALID_EVENT', 'the body must be a JSON object or an array of them', 'body');
      const result = await deps.events.ingest(Array.isArray(body) ? body : [body], { principal: req.principal });
      return reply.status(202).send(result);
    },
  );
}

function registerListRoute(app: App, deps: Deps) {
  app.get(
    '/v1/events',
    {
      preHandler: requireScope(deps.keys, 'read'),
      schema: {
        tags: ['events'],
        summary: 'List stored events, newest first',
        querystring: z.object({
          type: z.string().optional(),
          subject: z.string().optional(),
          source: z.string().optional(),
          from: rfc3339Param('from').optional(),
          to: rfc3339Param('to').optional(),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
          cursor: z.string().optional(),
        }),
        response: { 200: z.object({ data: z.array(listedEvent), next_cursor: z.string().nullable() }) },
      },
    },
    async (req) => {
      const q = req.query;
      const p = req.principal!;
      // Stored events can be filtered by subject and team only: a project-bound key is refused here.
      scopeRead(p, {}, { dims: ['subject', 'team'], what: 'the event list' });
      const rows = await deps.store.list({
        type: q.type,
        subject: scopeReadOne(p, 'subject', q.subject),
        source: q.source,
        team: p.team ?? undefined,
        from: q.from,
        to: q.to,
        limit: q.limit,
        after: q.cursor ? decodeCursor(q.cursor) : undefined,
      });
      const last = rows[rows.length - 1];
      return {
        data: rows.map((r) => ({
          specversion: '1.0' as const,
          id: r.id,
          source: r.source,
          type: r.type,
          subject: r.subject,
          time: new Date(r.time).toISOString(),
          data: r.data,
          received_at: new Date(r.received_at).toISOString(),
          cost: r.cost === null ? null : moneyString(r.cost),
          cost_source: r.cost_source,
          computed_cost: r.computed_cost === null ? null : moneyString(r.computed_cost),
          price: r.price,
          unpriced: r.unpriced,
          estimated: r.estimated,
        })),
        next_cursor: rows.length === q.limit && last ? encodeCursor(last.time, String(last.seq)) : null,
      };
    },
  );
}

function registerRejectedRoute(app: App, deps: Deps) {
  app.get(
    '/v1/events/rejected',
    {
      preHandler: requireScope(deps.keys, 'read'),
      schema: {
        tags: ['events'],
        summary: 'Events that failed validation, newest first, with the reason',
        querystring: z.object({
          limit: z.coerce.number().int().min(1).max(1000).default(100),
          cursor: z.string().regex(/^\d{1,18}$/, 'must be a cursor this API returned').optional(),
        }),
        response: { 200: z.object({ data: z.array(rejectedEvent), next_cursor: z.string().nullable() }) },
      },
    },
    async (req) => {
      const rows = await deps.store.listRejected({ limit: req.query.limit, before: req.query.cursor, team: req.principal!.team ?? undefined });
      const last = rows[rows.length - 1];
      return {
        data: rows.map((r) => ({
          received_at: new Date(r.received_at).toISOString(),
          source: r.source,
          id: r.event_id,
          index: r.batch_index,
          error: r.error,
          event: r.body,
        })),
        next_cursor: rows.length === req.query.limit && last ? String(last.seq) : null,
      };
    },
  );
}
