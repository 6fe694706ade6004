import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../shared/errors.ts';
import { hasScope, isBound, type Principal, type Scope } from '../auth/keys.ts';
import type { KeyService } from '../auth/service.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

const printable = (c: number) => c > 32 && c < 127;

export function bearerToken(req: { headers: IncomingHttpHeaders }): string | undefined {
  const h = req.headers.authorization;
  if (typeof h === 'string') {
    // The usual spelling without a regex (this runs on every gateway call); any other through it.
    if (h.startsWith('Bearer ') && printable(h.charCodeAt(7)) && printable(h.charCodeAt(h.length - 1))) return h.slice(7);
    const m = /^Bearer\s+(.+)$/i.exec(h.trim());
    if (m) return m[1]!.trim();
  }
  const x = req.headers['x-api-key'];
  return typeof x === 'string' && x ? x : undefined;
}

/** The dashboard's session cookie (src/dashboard/session.ts): the signed-in key, HttpOnly + SameSite=Strict. */
export const SESSION_COOKIE = 'tg_session';
/** The header a write made with the session cookie must carry (a cross-site form or image cannot send it). */
export const CSRF_HEADER = 'x-tollgate-csrf';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function sessionToken(req: { headers: IncomingHttpHeaders }): string | undefined {
  const m = /(?:^|;\s*)tg_session=([^;]+)/.exec(req.headers.cookie ?? '');
  if (!m) return undefined;
  try {
    return decodeURIComponent(m[1]!) || undefined;
  } catch {
    return undefined;
  }
}

/** What a route's auth hook demands; kept on the hook so the server and tests can see it. */
export interface AuthRequirement {
  scope: Scope;
  /** Admin routes are global settings: only an unbound admin key may use them, unless this is set (key management). */
  allowBound: boolean;
}
export const AUTH_REQUIREMENT = Symbol('tollgate.auth');
export type AuthHook = ((req: FastifyRequest, reply: FastifyReply) => Promise<void>) & { [AUTH_REQUIREMENT]: AuthRequirement };

/**
 * Route auth hook: 401 without a valid key, 403 without the scope, and 403 for an admin route
 * called with a key bound to a subject, team or project (prices, secrets, meters, jobs are
 * everyone's). Give it as the route's `preHandler` or `onRequest`: the server runs it on
 * `onRequest` either way, so a caller without a key learns that before anything about its body.
 */
export function requireScope(keys: KeyService, scope: Scope, opts: { allowBound?: boolean } = {}): AuthHook {
  const requirement: AuthRequirement = { scope, allowBound: opts.allowBound ?? false };
  const hook = async (req: FastifyRequest, _reply: FastifyReply) => {
    let token = bearerToken(req);
    if (!token && (token = sessionToken(req)) && !SAFE_METHODS.has(req.method) && !req.headers[CSRF_HEADER]) {
      throw new ApiError({ type: 'permission_denied', code: 'CSRF_HEADER_REQUIRED', message: `a write signed in with the session cookie needs the "${CSRF_HEADER}: 1" header`, param: CSRF_HEADER });
    }
    if (!token) throw new ApiError({ type: 'authentication_error', code: 'MISSING_API_KEY', message: 'send an API key as "Authorization: Bearer <key>"' });
    const p = await keys.authenticate(token);
    if (!p) throw new ApiError({ type: 'authentication_error', code: 'INVALID_API_KEY', message: 'the API key is not valid or has been revoked' });
    if (!hasScope(p, scope)) {
      throw new ApiError({ type: 'permission_denied', code: 'INSUFFICIENT_SCOPE', message: `this key lacks the "${scope}" scope (it has: ${p.scopes.join(', ')})` });
    }
    if (scope === 'admin' && !requirement.allowBound && isBound(p)) {
      throw new ApiError({ type: 'permission_denied', code: 'GLOBAL_ADMIN_REQUIRED', message: 'this is a global setting: it needs an admin key that is not bound to a subject, team or project' });
    }
    req.principal = p;
  };
  return Object.assign(hook, { [AUTH_REQUIREMENT]: requirement });
}

export function authRequirementOf(fn: unknown): AuthRequirement | undefined {
  return typeof fn === 'function' ? (fn as Partial<AuthHook>)[AUTH_REQUIREMENT] : undefined;
}
