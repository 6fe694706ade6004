/**
 * The one failure shape of the public contract: {"error":{"type","code","message", ...}}.
 * `param` names the offending field where there is one; a few errors carry extra fields
 * (quota_exceeded's remaining_tokens) — those go in `extra`.
 */
export type ErrorType =
  | 'invalid_request'
  | 'authentication_error'
  | 'permission_denied'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'quota_exceeded'
  | 'rate_limited'
  | 'upstream_error'
  | 'unavailable'
  | 'internal_error';

const STATUS: Record<ErrorType, number> = {
  invalid_request: 400,
  authentication_error: 401,
  permission_denied: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  quota_exceeded: 429,
  rate_limited: 429,
  upstream_error: 502,
  unavailable: 503,
  internal_error: 500,
};

export interface ApiErrorOptions {
  type: ErrorType;
  /** Stable, machine-readable (`TOKEN_EXHAUSTED`). */
  code: string;
  message: string;
  /** The offending field, as the caller named it. */
  param?: string;
  /** Extra fields of the error object (quota_exceeded's remaining_tokens). */
  extra?: Record<string, unknown>;
  /** Only where the contract gives this error a status other than its type's. */
  status?: number;
}

/**
 * What every domain throws for a failure the caller can act on. It names a category (`type`), never
 * an HTTP detail beyond the status its type implies; `http/errors.ts` is the one place that turns it
 * (or anything else thrown) into a response.
 */
export class ApiError extends Error {
  readonly type: ErrorType;
  readonly code: string;
  readonly param?: string;
  readonly extra?: Record<string, unknown>;
  readonly status: number;
  constructor(o: ApiErrorOptions) {
    super(o.message);
    this.type = o.type;
    this.code = o.code;
    this.param = o.param;
    this.extra = o.extra;
    this.status = o.status ?? STATUS[o.type];
  }
}

export const badRequest = (code: string, message: string, param?: string) => new ApiError({ type: 'invalid_request', code, message, param });
export const notFound = (what: string) => new ApiError({ type: 'not_found', code: 'NOT_FOUND', message: `${what} not found` });
