import { z } from 'zod';
import type { App } from '../http/server.ts';
import { requireScope } from '../http/auth.ts';
import { SCOPES } from './keys.ts';
import type { KeyService } from './service.ts';

const publicKey = z.object({
  id: z.string(),
  name: z.string(),
  prefix: z.string(),
  scopes: z.array(z.enum(SCOPES)),
  subject: z.string().nullable(),
  team: z.string().nullable(),
  project: z.string().nullable(),
  created_at: z.string(),
  revoked_at: z.string().nullable(),
  last_used_at: z.string().nullable(),
});

const binding = z.string().min(1).max(512).nullish();

export function registerKeyRoutes(app: App, deps: { keys: KeyService }) {
  // Key management is the one admin area a bound admin key may use, within its own binding.
  const admin = requireScope(deps.keys, 'admin', { allowBound: true });
  app.post(
    '/v1/keys',
    {
      preHandler: admin,
      schema: {
        tags: ['keys'],
        summary: 'Create an API key (the secret is shown once)',
        body: z
          .object({
            name: z.string().min(1).max(200),
            scopes: z.array(z.enum(SCOPES)).min(1),
            subject: binding,
            team: binding,
            project: binding,
          })
          .strict(),
        response: { 201: publicKey.extend({ key: z.string() }) },
      },
    },
    async (req, reply) => {
      const { key, secret } = await deps.keys.create(req.body, req.principal);
      return reply.status(201).send({ ...key, key: secret });
    },
  );
  app.get(
    '/v1/keys',
    {
      preHandler: admin,
      schema: {
        tags: ['keys'],
        summary: 'List API keys (never their secrets)',
        querystring: z.object({ include_revoked: z.enum(['true', 'false']).default('false') }),
        response: { 200: z.object({ data: z.array(publicKey) }) },
      },
    },
    async (req) => ({ data: await deps.keys.list(req.query.include_revoked === 'true', req.principal) }),
  );
  app.delete(
    '/v1/keys/:id',
    {
      preHandler: admin,
      schema: { tags: ['keys'], summary: 'Revoke an API key', params: z.object({ id: z.string().min(1) }), response: { 200: publicKey } },
    },
    async (req) => deps.keys.revoke(req.params.id, req.principal),
  );
}
