import { z } from 'zod';
import type { FastifyRequest } from 'fastify';
import type { App } from '../http/server.ts';
import { requireScope } from '../http/auth.ts';
import { rfc3339Param } from '../http/params.ts';
import type { KeyService } from '../auth/service.ts';
import { bindingOf, requireUnbound } from '../auth/binding.ts';
import type { AlertService } from './service.ts';

const ruleSchema = z.object({
  id: z.string(),
  name: z.string(),
  on: z.string(),
  filter: z.record(z.string(), z.unknown()),
  condition: z.record(z.string(), z.unknown()),
  channels: z.array(z.record(z.string(), z.unknown())),
  dedup_window_s: z.number().nullable(),
  effective_dedup_window_s: z.number(),
  throttle_s: z.number().nullable(),
  enabled: z.boolean(),
  created_at: z.string(),
  updated_at: z.string(),
});
const ruleWithSecrets = ruleSchema.extend({ secrets: z.record(z.string(), z.string()).optional() });

const attemptSchema = z.object({ attempt: z.number(), at: z.string(), ok: z.boolean(), status_code: z.number().nullable(), error: z.string().nullable(), duration_ms: z.number() });
const deliverySchema = z.object({
  channel: z.number(),
  type: z.string(),
  target: z.string().nullable(),
  status: z.string(),
  attempts: z.number(),
  last_error: z.string().nullable(),
  sent_at: z.string().nullable(),
  attempt_log: z.array(attemptSchema),
});
const firingSchema = z.object({
  id: z.string(),
  rule_id: z.string(),
  rule_name: z.string(),
  type: z.string(),
  subject: z.string().nullable(),
  team: z.string().nullable(),
  level: z.string().nullable(),
  period: z.string().nullable(),
  value: z.string().nullable(),
  threshold: z.string().nullable(),
  occurred_at: z.string(),
  created_at: z.string(),
  test: z.boolean(),
  title: z.string(),
  details: z.record(z.string(), z.unknown()),
  deliveries: z.array(deliverySchema),
});
const notificationSchema = z.object({
  id: z.string(),
  firing_id: z.string(),
  rule_id: z.string(),
  subject: z.string().nullable(),
  team: z.string().nullable(),
  type: z.string(),
  level: z.string().nullable(),
  title: z.string(),
  body: z.string(),
  data: z.record(z.string(), z.unknown()),
  created_at: z.string(),
  read_at: z.string().nullable(),
});
const idParams = z.object({ id: z.string().min(1) });

/** Rules and history carry targets (addresses, URLs): keys bound to a subject/team/project read only their notifications. */
function unbound(req: FastifyRequest) {
  requireUnbound(req.principal, 'a key bound to a subject, team or project reads only its notifications (GET /v1/notifications)');
}

export function registerAlertRoutes(app: App, deps: { keys: KeyService; alerts: AlertService }) {
  const { alerts } = deps;
  const admin = requireScope(deps.keys, 'admin');
  const read = requireScope(deps.keys, 'read');
  const tags = ['alerts'];

  app.post(
    '/v1/alerts/rules',
    {
      preHandler: admin,
      schema: {
        tags,
        summary: 'Create an alert rule',
        description:
          '{name, on: entitlement.level|budget.amount|forecast.exceeds|anomaly|collector.failure|reconciliation.mismatch, filter?, condition?, channels:[{type:"email",to}|{type:"webhook",url,secret?}|{type:"in_app"}], dedup_window_s?, throttle_s?, enabled?}. ' +
          'A webhook secret generated here is returned once, in `secrets` by channel index.',
        body: z.record(z.string(), z.unknown()),
        response: { 201: ruleWithSecrets },
      },
    },
    async (req, reply) => {
      const { rule, secrets } = await alerts.createRule(req.body);
      return reply.status(201).send({ ...rule, ...(Object.keys(secrets).length ? { secrets: Object.fromEntries(Object.entries(secrets).map(([k, v]) => [k, v])) } : {}) });
    },
  );

  app.get(
    '/v1/alerts/rules',
    { preHandler: read, schema: { tags, summary: 'List alert rules (webhook secrets masked)', response: { 200: z.object({ data: z.array(ruleSchema) }) } } },
    async (req) => {
      unbound(req);
      return { data: await alerts.listRules() };
    },
  );

  app.get(
    '/v1/alerts/rules/:id',
    { preHandler: read, schema: { tags, summary: 'One alert rule', params: idParams, response: { 200: ruleSchema } } },
    async (req) => {
      unbound(req);
      return alerts.getRule(req.params.id);
    },
  );

  app.patch(
    '/v1/alerts/rules/:id',
    {
      preHandler: admin,
      schema: { tags, summary: 'Change an alert rule (any field of the create body; enabled:false pauses it)', params: idParams, body: z.record(z.string(), z.unknown()), response: { 200: ruleWithSecrets } },
    },
    async (req) => {
      const { rule, secrets } = await alerts.updateRule(req.params.id, req.body);
      return { ...rule, ...(Object.keys(secrets).length ? { secrets: Object.fromEntries(Object.entries(secrets)) } : {}) };
    },
  );

  app.delete('/v1/alerts/rules/:id', { preHandler: admin, schema: { tags, summary: 'Delete an alert rule (its history stays)', params: idParams } }, async (req, reply) => {
    await alerts.deleteRule(req.params.id);
    return reply.status(204).send();
  });

  app.post(
    '/v1/alerts/rules/:id/test',
    {
      preHandler: admin,
      schema: {
        tags,
        summary: "Send a sample through every channel of the rule and report each delivery",
        params: idParams,
        response: { 200: z.object({ firing_id: z.string(), deliveries: z.array(deliverySchema) }) },
      },
    },
    async (req) => alerts.test(req.params.id),
  );

  app.get(
    '/v1/alerts/history',
    {
      preHandler: read,
      schema: {
        tags,
        summary: "Firings, newest first, with each channel's delivery status and attempts",
        querystring: z.object({
          rule_id: z.string().optional(),
          from: rfc3339Param('from').optional(),
          to: rfc3339Param('to').optional(),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
          include_tests: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
        }),
        response: { 200: z.object({ data: z.array(firingSchema) }) },
      },
    },
    async (req) => {
      unbound(req);
      const q = req.query;
      return { data: await alerts.history({ rule_id: q.rule_id, from: q.from, to: q.to, limit: q.limit, include_tests: q.include_tests }) };
    },
  );

  app.get(
    '/v1/notifications',
    {
      preHandler: read,
      schema: {
        tags,
        summary: 'In-app notifications, newest first (a subject-bound key sees only its subject\'s)',
        querystring: z.object({
          subject: z.string().min(1).optional(),
          unread: z.enum(['true', 'false']).optional().transform((v) => v === 'true'),
          limit: z.coerce.number().int().min(1).max(500).default(50),
          before: rfc3339Param('before').optional(),
        }),
        response: { 200: z.object({ data: z.array(notificationSchema) }) },
      },
    },
    async (req) => {
      const q = req.query;
      return { data: await alerts.listNotifications({ subject: q.subject, unread: q.unread, limit: q.limit, before: q.before }, bindingOf(req.principal)) };
    },
  );

  app.post(
    '/v1/notifications/:id/read',
    { preHandler: read, schema: { tags, summary: 'Mark a notification read', params: idParams, response: { 200: notificationSchema } } },
    async (req) => alerts.readNotification(req.params.id, bindingOf(req.principal)),
  );
}
