import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, badRequest } from '../shared/errors.ts';
import { findUnstorable, unstorableReason } from '../shared/strings.ts';

/**
 * The one rule for request strings (issue 13): a NUL (U+0000) or an unpaired UTF-16 surrogate in
 * a query parameter, a path parameter or a JSON body string reached PostgreSQL (text and jsonb
 * refuse both) and answered 500. Here, before any route runs, it answers 400 naming the
 * parameter. The rule itself is the events' one (`unstorableReason`, src/events/validate.ts).
 *
 * Bodies: only /v1 routes' JSON bodies are walked (the gateway forwards provider bodies as they
 * are), at most MAX_BODY_DEPTH levels deep (deeper → 400 BODY_TOO_DEEP: a body that cannot be
 * handled safely as a whole). A route that judges its body item by item (ingest: one rejected
 * event, the rest stored) opts out with `config: { ownStrings: true }`.
 */

/** How deep a /v1 JSON body may nest objects and arrays (docs/foundation.md: input limits). */
export const MAX_BODY_DEPTH = 64;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route checks the strings and nesting of its own body (item by item). */
    ownStrings?: boolean;
  }
}

function checkFlat(values: unknown, where: 'query parameter' | 'path parameter'): void {
  if (!values || typeof values !== 'object') return;
  for (const [k, v] of Object.entries(values)) {
    const keyWhy = unstorableReason(k);
    if (keyWhy) throw badRequest('INVALID_FIELD', `a ${where} name ${keyWhy}`, JSON.stringify(k).slice(1, -1));
    for (const s of Array.isArray(v) ? v : [v]) {
      if (typeof s !== 'string') continue;
      const why = unstorableReason(s);
      if (why) throw badRequest('INVALID_FIELD', `${where} "${k}" ${why}`, k);
    }
  }
}

/** The check itself: throws the 400 for the first offending parameter or body string. */
export function checkRequestStrings(req: Pick<FastifyRequest, 'query' | 'params' | 'body' | 'routeOptions'>): void {
  checkFlat(req.params, 'path parameter');
  checkFlat(req.query, 'query parameter');
  const body = req.body;
  if (body === null || typeof body !== 'object' && typeof body !== 'string') return;
  if (req.routeOptions.config?.ownStrings || !req.routeOptions.url?.startsWith('/v1/')) return;
  const bad = findUnstorable(body, '', MAX_BODY_DEPTH, 'body');
  if (!bad) return;
  if (bad.message.startsWith('nests')) {
    throw new ApiError({ type: 'invalid_request', code: 'BODY_TOO_DEEP', message: `the body nests objects and arrays deeper than ${MAX_BODY_DEPTH} levels (at ${bad.param})`, param: 'body' });
  }
  throw badRequest('INVALID_FIELD', bad.param === 'body' ? `the body ${bad.message}` : `body field "${bad.param}" ${bad.message}`, bad.param);
}

/** The preValidation hook createServer registers for every route. */
export async function rejectUnstorableInput(req: FastifyRequest, _reply: FastifyReply): Promise<void> {
  checkRequestStrings(req);
}
