import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../shared/errors.ts';
import { hasScope, type Principal, type Scope } from '../auth/keys.ts';
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

/** preHandler factory: 401 without a valid key, 403 without the scope. */
export function requireScope(keys: KeyService, scope: Scope) {
  return async (req: FastifyRequest, _reply: FastifyReply) => {
    const token = bearerToken(req);
    if (!token) throw new ApiError('authentication_error', 'MISSING_API_KEY', 'send an API key as "Authorization: Bearer <key>"');
    const p = await keys.authenticate(token);
    if (!p) throw new ApiError('authentication_error', 'INVALID_API_KEY', 'the API key is not valid or has been revoked');
    if (!hasScope(p, scope)) {
      throw new ApiError('permission_denied', 'INSUFFICIENT_SCOPE', `this key lacks the "${scope}" scope (it has: ${p.scopes.join(', ')})`);
    }
    req.principal = p;
  };
}
