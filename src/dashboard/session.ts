import { z } from 'zod';
import type { FastifyRequest } from 'fastify';
import type { App } from '../http/server.ts';
import { requireScope, SESSION_COOKIE } from '../http/auth.ts';
import { hasScope, type Principal } from '../auth/keys.ts';
import type { KeyService } from '../auth/service.ts';
import { ApiError } from '../shared/errors.ts';

/** How long the browser keeps the session cookie (a revoked key ends every session at once anyway). */
export const SESSION_MAX_AGE_S = 12 * 3600;

/** The dashboard pages and the route each one needs; a page whose route is absent shows "not available". */
export const FEATURE_ROUTES = {
  usage: '/v1/usage',
  summary: '/v1/summary',
  quotas: '/v1/entitlements',
  alerts: '/v1/alerts/rules',
  notifications: '/v1/notifications',
  collectors: '/v1/collectors',
  reconciliation: '/v1/reconciliation',
  analysis: '/v1/analysis/forecast',
  correlation: '/v1/analysis/correlation',
  prices: '/v1/prices',
  export: '/v1/export',
} as const;

const sessionOut = z.object({
  key_id: z.string(),
  name: z.string(),
  scopes: z.array(z.string()),
  subject: z.string().nullable(),
  team: z.string().nullable(),
  project: z.string().nullable(),
  read_only: z.boolean(),
  tz: z.string(),
  features: z.record(z.string(), z.boolean()),
});

export function sessionBody(app: App, p: Principal, tz: string) {
  const features: Record<string, boolean> = {};
  for (const [name, url] of Object.entries(FEATURE_ROUTES)) features[name] = app.hasRoute({ method: 'GET', url });
  return {
    key_id: p.keyId,
    name: p.name,
    scopes: p.scopes,
    subject: p.subject,
    team: p.team,
    project: p.project,
    read_only: !p.scopes.includes('admin'),
    tz,
    features,
  };
}

/** `Set-Cookie` for the session: HttpOnly, SameSite=Strict, Secure when the request came over HTTPS. */
export function sessionCookie(value: string, req: FastifyRequest, maxAge: number): string {
  const parts = [`${SESSION_COOKIE}=${encodeURIComponent(value)}`, 'Path=/', 'HttpOnly', 'SameSite=Strict', `Max-Age=${maxAge}`];
  if (req.protocol === 'https') parts.push('Secure');
  return parts.join('; ');
}

/**
 * POST /v1/session {key} → the session cookie (the key itself, HttpOnly: page scripts never see
 * it); GET /v1/session → who is signed in and which pages exist; DELETE /v1/session → signed out.
 * Why the cookie carries the key and how writes are kept CSRF-safe: docs/dashboard.md.
 */
export function registerSessionRoutes(app: App, deps: { keys: KeyService; tz: string }) {
  app.post(
    '/v1/session',
    {
      schema: {
        tags: ['dashboard'],
        summary: 'Sign in to the dashboard with an admin or read key (sets an HttpOnly, SameSite=Strict session cookie)',
        security: [],
        body: z.object({ key: z.string().min(1).max(512) }),
        response: { 200: sessionOut },
      },
    },
    async (req, reply) => {
      const p = await deps.keys.authenticate(req.body.key);
      if (!p) throw new ApiError({ type: 'authentication_error', code: 'INVALID_API_KEY', message: 'the API key is not valid or has been revoked', param: 'key' });
      if (!hasScope(p, 'read')) {
        throw new ApiError({ type: 'permission_denied', code: 'INSUFFICIENT_SCOPE', message: `the dashboard needs a key with the "read" or "admin" scope (this one has: ${p.scopes.join(', ')})`, param: 'key' });
      }
      reply.header('set-cookie', sessionCookie(req.body.key, req, SESSION_MAX_AGE_S));
      reply.header('cache-control', 'no-store');
      return sessionBody(app, p, deps.tz);
    },
  );
  app.get(
    '/v1/session',
    {
      preHandler: requireScope(deps.keys, 'read'),
      schema: { tags: ['dashboard'], summary: 'The signed-in key (scopes, binding), the report zone and which dashboard pages this server has', response: { 200: sessionOut } },
    },
    async (req, reply) => {
      reply.header('cache-control', 'no-store');
      return sessionBody(app, req.principal!, deps.tz);
    },
  );
  app.delete(
    '/v1/session',
    {
      schema: { tags: ['dashboard'], summary: 'Sign out: clears the session cookie', security: [], response: { 200: z.object({ signed_out: z.boolean() }) } },
    },
    async (req, reply) => {
      reply.header('set-cookie', sessionCookie('', req, 0));
      return { signed_out: true };
    },
  );
}
