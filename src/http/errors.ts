import type { FastifyError } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { ApiError } from '../shared/errors.ts';

/**
 * The one place a thrown thing becomes the contract's error shape. Domains throw `ApiError`
 * (shared/errors.ts); Fastify's own failures (schema, body parser, limits) are mapped here too, so
 * every answer — Fastify route, direct route, client error — reads the same.
 */
export function errorBody(e: ApiError): { error: Record<string, unknown> } {
  return {
    error: {
      type: e.type,
      code: e.code,
      message: e.message,
      ...(e.param !== undefined ? { param: e.param } : {}),
      ...(e.extra ?? {}),
    },
  };
}

export const bodyTooLarge = (limit: number) =>
  new ApiError({ type: 'payload_too_large', code: 'BODY_TOO_LARGE', message: `the request body is larger than the limit of ${limit} bytes` });
export const internalError = () => new ApiError({ type: 'internal_error', code: 'INTERNAL', message: 'an internal error occurred; it has been logged' });

/** `undefined`: not an error the caller caused — log it and answer `internalError()`. */
export function apiErrorOf(err: unknown, ctx: { bodyLimit: number; contentType?: string }): ApiError | undefined {
  if (err instanceof ApiError) return err;
  if (hasZodFastifySchemaValidationErrors(err)) {
    const issue = err.validation[0]!;
    const where = err.validationContext ?? 'request';
    const field = issue.instancePath.replace(/^\//, '').replace(/\//g, '.');
    return new ApiError({
      type: 'invalid_request',
      code: 'INVALID_FIELD',
      message: `${where === 'querystring' ? 'query parameter' : where} ${field ? `"${field}" ` : ''}${issue.message}`,
      param: field || where,
    });
  }
  const code = (err as FastifyError).code;
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return bodyTooLarge(ctx.bodyLimit);
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return new ApiError({
      type: 'unsupported_media_type',
      code: 'UNSUPPORTED_CONTENT_TYPE',
      message: `content type ${JSON.stringify(ctx.contentType ?? '')} is not accepted here`,
    });
  }
  if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || code === 'FST_ERR_CTP_INVALID_JSON_BODY' || (err as { statusCode?: number }).statusCode === 400) {
    return new ApiError({ type: 'invalid_request', code: 'INVALID_JSON', message: `the body is not valid JSON: ${(err as Error).message}`, param: 'body' });
  }
  return undefined;
}
