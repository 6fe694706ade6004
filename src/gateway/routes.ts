import { z } from 'zod';
import { addDirectRoute, type App } from '../http/server.ts';
import { requireScope } from '../http/auth.ts';
import type { KeyService } from '../auth/service.ts';
import { ApiError, notFound } from '../shared/errors.ts';
import type { ResolvedRoute } from './config.ts';
import type { PolicyService } from './policy.ts';
import type { CallSpec, Proxy } from './proxy.ts';
import { apiOf } from './providers/index.ts';

const RESERVED = new Set(['v1', 'healthz', 'metrics', 'docs', 'openapi.json', 'webhooks']);

const NO_HIJACK = () => {};

/**
 * The drop-in provider routes, in their own scope so bodies stay raw bytes (no re-serialising).
 * The OpenAI and Anthropic routes are also served directly (see addDirectRoute); Fastify keeps
 * them for the OpenAPI document and for inject().
 */
export function registerGatewayRoutes(app: App, deps: { proxy: Proxy; routes: Map<string, ResolvedRoute>; bodyLimit: number }) {
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: deps.bodyLimit }, (_req, body, done) => done(null, body));
    // No pino child logger per call (it was ~1.5 % of the gateway's CPU): gateway routes log only
    // errors, and those lines go out without a request id.
    scope.setChildLoggerFactory((logger) => logger);
    for (const route of deps.routes.values()) {
      if (RESERVED.has(route.name)) throw new Error(`gateway.routes.${route.name}: the name is reserved`);
      for (const ep of apiOf(route.api)!.endpoints) {
        const path = `/${route.name}${ep.path}`;
        const schema = { tags: ['gateway'], summary: `${ep.summary} via route "${route.name}"` };
        if (!ep.path.includes(':') && !ep.path.includes('*')) {
          // An exact path: its call is known once, and Node's HTTP server serves it directly.
          const spec: CallSpec = { route, ...ep.shape({}) };
          scope.post(path, { schema }, (req, reply) => deps.proxy.handle(req, reply, spec));
          addDirectRoute(app, path, (req, body, res) => deps.proxy.handle({ headers: req.headers, url: req.url ?? '', body }, { raw: res, hijack: NO_HIJACK }, spec));
        } else {
          scope.post<{ Params: Record<string, string> }>(path, { schema }, (req, reply) => deps.proxy.handle(req, reply, { route, ...ep.shape(req.params) }));
        }
      }
    }
  });
}

const policyBody = z
  .object({
    allowed_models: z.array(z.string().min(1).max(256)).max(1000).nullable().default(null),
    allowed_routes: z.array(z.string().min(1).max(64)).max(100).nullable().default(null),
  })
  .strict();
const policyOut = z.object({ key_id: z.string(), allowed_models: z.array(z.string()).nullable(), allowed_routes: z.array(z.string()).nullable(), updated_at: z.string() });
const idParam = z.object({ id: z.string().min(1).max(128) });

/** Admin routes for per-key gateway policies (allowed models and routes). */
export function registerPolicyRoutes(app: App, deps: { keys: KeyService; policies: PolicyService; routes: Map<string, ResolvedRoute> }) {
  const admin = requireScope(deps.keys, 'admin');
  const keyExists = async (id: string) => {
    if (!(await deps.keys.list(true)).some((k) => k.id === id)) throw notFound(`key ${id}`);
  };
  app.put(
    '/v1/gateway/keys/:id/policy',
    { preHandler: admin, schema: { tags: ['gateway'], summary: 'Set which models and routes a gateway key may use (null = any)', params: idParam, body: policyBody, response: { 200: policyOut } } },
    async (req) => {
      await keyExists(req.params.id);
      for (const r of req.body.allowed_routes ?? []) {
        if (!deps.routes.has(r)) throw new ApiError({ type: 'invalid_request', code: 'UNKNOWN_ROUTE', message: `allowed_routes: unknown route "${r}" (known: ${[...deps.routes.keys()].join(', ')})`, param: 'allowed_routes' });
      }
      return deps.policies.put(req.params.id, req.body);
    },
  );
  app.get(
    '/v1/gateway/keys/:id/policy',
    { preHandler: admin, schema: { tags: ['gateway'], summary: "A gateway key's policy", params: idParam, response: { 200: policyOut } } },
    async (req) => {
      const p = await deps.policies.get(req.params.id);
      if (!p) throw notFound(`policy for key ${req.params.id}`);
      return p;
    },
  );
  app.delete(
    '/v1/gateway/keys/:id/policy',
    { preHandler: admin, schema: { tags: ['gateway'], summary: "Remove a gateway key's policy (any model, any route)", params: idParam, response: { 200: z.object({ key_id: z.string(), deleted: z.boolean() }) } } },
    async (req) => {
      if (!(await deps.policies.delete(req.params.id))) throw notFound(`policy for key ${req.params.id}`);
      return { key_id: req.params.id, deleted: true };
    },
  );
}
