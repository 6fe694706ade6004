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

export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly type: ErrorType,
    readonly code: string,
    message: string,
    readonly param?: string,
    readonly extra?: Record<string, unknown>,
    status?: number,
  ) {
    super(message);
    this.status = status ?? STATUS[type];
  }

  toBody(): { error: Record<string, unknown> } {
    return {
      error: {
        type: this.type,
        code: this.code,
        message: this.message,
        ...(this.param !== undefined ? { param: this.param } : {}),
        ...(this.extra ?? {}),
      },
    };
  }
}

export const badRequest = (code: string, message: string, param?: string) => new ApiError('invalid_request', code, message, param);
export const notFound = (what: string) => new ApiError('not_found', 'NOT_FOUND', `${what} not found`);
