import { z } from 'zod';
import type { App } from '../http/server.ts';
import { requireScope } from '../http/auth.ts';
import type { KeyService } from '../auth/service.ts';
import { notFound } from '../shared/errors.ts';
import { checkSecretName, type SecretService } from './service.ts';

const secretMeta = z.object({
  name: z.string(),
  key_id: z.string(),
  description: z.string().nullable(),
  version: z.number(),
  created_at: z.string(),
  updated_at: z.string(),
});
const nameParam = z.object({ name: z.string().min(1).max(128) });

/** Admin routes: values go in, only metadata ever comes out. */
export function registerSecretRoutes(app: App, deps: { keys: KeyService; secrets: SecretService }) {
  const admin = requireScope(deps.keys, 'admin');
  app.put(
    '/v1/secrets/:name',
    {
      preHandler: admin,
      schema: {
        tags: ['secrets'],
        summary: 'Create or replace a secret (encrypted at rest; the value is never returned)',
        params: nameParam,
        body: z.object({ value: z.string().min(1).max(65536), description: z.string().max(500).nullish() }).strict(),
        response: { 200: secretMeta },
      },
    },
    async (req) => {
      checkSecretName(req.params.name);
      return deps.secrets.set(req.params.name, req.body.value, req.body.description ?? null);
    },
  );
  app.get(
    '/v1/secrets',
    { preHandler: admin, schema: { tags: ['secrets'], summary: 'List secrets (names and metadata only)', response: { 200: z.object({ data: z.array(secretMeta) }) } } },
    async () => ({ data: await deps.secrets.list() }),
  );
  app.get(
    '/v1/secrets/:name',
    { preHandler: admin, schema: { tags: ['secrets'], summary: "A secret's metadata (never its value)", params: nameParam, response: { 200: secretMeta } } },
    async (req) => {
      const m = (await deps.secrets.list()).find((s) => s.name === req.params.name);
      if (!m) throw notFound(`secret ${req.params.name}`);
      return m;
    },
  );
  app.delete(
    '/v1/secrets/:name',
    { preHandler: admin, schema: { tags: ['secrets'], summary: 'Delete a secret', params: nameParam, response: { 200: z.object({ name: z.string(), deleted: z.boolean() }) } } },
    async (req) => {
      if (!(await deps.secrets.delete(req.params.name))) throw notFound(`secret ${req.params.name}`);
      return { name: req.params.name, deleted: true };
    },
  );
}
