import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import zlib from 'node:zlib';
import type { Readable } from 'node:stream';
import Fastify, { LogController, type FastifyInstance, type FastifyError } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { ApiError } from '../shared/errors.ts';
import { apiErrorOf, bodyTooLarge, errorBody, internalError } from './errors.ts';
import type { Logger } from '../shared/log.ts';
import { rejectUnstorableInput } from './strings.ts';
import { authRequirementOf, type AuthRequirement } from './auth.ts';

export type App = FastifyInstance<any, any, any, any, ZodTypeProvider>;

export interface ServerOptions {
  logger: Logger;
  bodyLimit: number;
  version: string;
}

/**
 * Handles one request whose body has been read (raw bytes, within the body limit). A rejection
 * answers in the error shape, as a thrown error does in a Fastify route.
 */
export type DirectHandler = (req: IncomingMessage, body: Buffer, res: ServerResponse) => Promise<void>;
const directRoutes = new WeakMap<object, Map<string, DirectHandler>>();

/**
 * Serves POST `path` (exact, query string ignored) straight from Node's HTTP server. For the
 * gateway's hot routes only, which also register as Fastify routes (OpenAPI, inject() in tests);
 * Fastify's per-request work was ~8 % of the gateway's CPU.
 */
export function addDirectRoute(app: App, path: string, handler: DirectHandler) {
  directRoutes.get(app)!.set(path, handler);
}


/** The error-shape answer of a direct route (what the Fastify error handler does for a route). */
function sendDirectError(res: ServerResponse, err: unknown, logger: Logger) {
  if (!(err instanceof ApiError) || res.headersSent) logger.error({ err }, res.headersSent ? 'request failed after its response headers were sent' : 'request failed');
  // The client has the headers already: closing the connection is the only way to tell it.
  if (res.headersSent) return void res.destroy();
  const e = err instanceof ApiError ? err : internalError();
  const body = JSON.stringify(errorBody(e));
  res.writeHead(e.status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Reads the body up to the limit (413 beyond it, by content-length or as a chunked body arrives), then runs the handler. */
function runDirect(h: DirectHandler, req: IncomingMessage, res: ServerResponse, limit: number, logger: Logger) {
  const refuse = () => {
    res.setHeader('connection', 'close');
    sendDirectError(res, bodyTooLarge(limit), logger);
    req.resume();
  };
  if (Number(req.headers['content-length']) > limit) return refuse();
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (c: Buffer) => {
    if (size > limit) return;
    size += c.length;
    if (size > limit) refuse();
    else chunks.push(c);
  });
  req.on('end', () => {
    if (size > limit) return;
    h(req, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size), res).catch((err) => sendDirectError(res, err, logger));
  });
}

/**
 * Runs every route's auth hook (requireScope) on onRequest, whichever hook the route named it in:
 * a caller without a key gets 401 before its body is read, parsed or validated.
 */
function authFirst(route: { method: string | string[]; url: string; preHandler?: unknown; onRequest?: unknown }, seen: AuthedRoute[]) {
  const pre = [route.preHandler ?? []].flat();
  const auth = pre.filter((fn) => authRequirementOf(fn));
  if (auth.length) {
    route.preHandler = pre.filter((fn) => !authRequirementOf(fn)) as never;
    route.onRequest = [...auth, ...[route.onRequest ?? []].flat()] as never;
  }
  const requirement = [route.onRequest ?? []].flat().map(authRequirementOf).find(Boolean);
  if (requirement) for (const method of [route.method].flat().filter((m) => m !== 'HEAD')) seen.push({ method, url: route.url, ...requirement });
}

export interface AuthedRoute extends AuthRequirement {
  method: string;
  url: string;
}
const authedRoutes = new WeakMap<object, AuthedRoute[]>();

/** Every route that takes an API key, with the scope it needs (for tests that must cover them all). */
export function authRoutesOf(app: App): AuthedRoute[] {
  return authedRoutes.get(app) ?? [];
}

const DECODERS: Record<string, () => zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress> = {
  gzip: () => zlib.createGunzip(),
  'x-gzip': () => zlib.createGunzip(),
  deflate: () => zlib.createInflate(),
  br: () => zlib.createBrotliDecompress(),
};

/**
 * `content-encoding: gzip | deflate | br` bodies (SDKs compress large batches) are decoded before
 * parsing; the body limit then applies to the decoded bytes, so a small bomb is still refused.
 */
async function decodeContentEncoding(req: { headers: IncomingMessage['headers'] }, _reply: unknown, payload: Readable) {
  const enc = String(req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (enc === 'identity' || enc === '') return payload;
  const decoder = DECODERS[enc];
  if (!decoder) {
    throw new ApiError({ type: 'unsupported_media_type', code: 'UNSUPPORTED_CONTENT_ENCODING', message: `content-encoding ${JSON.stringify(enc)} is not supported; send identity, gzip, deflate or br`, param: 'content-encoding' });
  }
  const out = decoder() as zlib.Gunzip & { receivedEncodedLength?: number };
  out.receivedEncodedLength = 0;
  payload.on('data', (c: Buffer) => void (out.receivedEncodedLength! += c.length));
  payload.on('error', (err) => out.destroy(err));
  out.on('error', () => {}); // the parser reports it (below), once
  const decoded = payload.pipe(out);
  decoded.once('error', (err) => {
    if (!(err instanceof ApiError)) decoded.emit('error', new ApiError({ type: 'invalid_request', code: 'INVALID_BODY_ENCODING', message: `the body is not valid ${enc}: ${err.message}`, param: 'body' }));
  });
  return decoded;
}

/** Fastify with zod schemas, OpenAPI, CloudEvents content types and the one error shape. */
export async function createServer(opts: ServerOptions): Promise<App> {
  const direct = new Map<string, DirectHandler>();
  const app = Fastify({
    serverFactory: (handler) =>
      http.createServer((req, res) => {
        if (direct.size && req.method === 'POST') {
          const url = req.url ?? '';
          const q = url.indexOf('?');
          const h = direct.get(q < 0 ? url : url.slice(0, q));
          if (h) return runDirect(h, req, res, opts.bodyLimit, opts.logger);
        }
        handler(req, res);
      }),
    loggerInstance: opts.logger,
    bodyLimit: opts.bodyLimit,
    // Per-request lines would dominate the log (and the ingest profile); errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: true,
    // A URL the router cannot decode (raw UTF-8 or a broken %-escape) answers in the one error shape too.
    // Bytes Node's HTTP parser refuses (raw UTF-8 in the request line, a broken header) never reach
    // a route; the answer is still the one error shape.
    clientErrorHandler: (err, socket) => {
      if ((err as NodeJS.ErrnoException).code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
      const tooLarge = (err as NodeJS.ErrnoException).code === 'HPE_HEADER_OVERFLOW';
      const body = JSON.stringify(errorBody(
        new ApiError({ type: 'invalid_request', code: tooLarge ? 'HEADERS_TOO_LARGE' : 'INVALID_REQUEST', message: tooLarge ? 'the request headers are too large' : `the request cannot be parsed (${(err as NodeJS.ErrnoException).code ?? err.message}); percent-encode non-ASCII characters in the URL`, param: tooLarge ? 'headers' : 'url', status: tooLarge ? 431 : 400 }
        )),
      );
      socket.end(
        `HTTP/1.1 ${tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request'}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
    },
    frameworkErrors: (err, _req, reply) => {
      (reply as { status(n: number): { send(b: unknown): void } }).status(400).send(errorBody(new ApiError({ type: 'invalid_request', code: 'INVALID_URL', message: `the request URL cannot be read: ${err.message}; percent-encode non-ASCII characters`, param: 'url' })));
    },
  }).withTypeProvider<ZodTypeProvider>();
  const authed: AuthedRoute[] = [];
  authedRoutes.set(app, authed);
  app.addHook('onRoute', (route) => authFirst(route, authed));
  app.addHook('preParsing', decodeContentEncoding);
  directRoutes.set(app, direct);
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.addHook('preValidation', rejectUnstorableInput); // NUL / lone surrogates / deep bodies → 400 (src/http/strings.ts)

  // JSON routes only: a text/plain body is 415, not a string that fails the schema. An empty JSON
  // body is no body (a DELETE sent with a content type), which the route's schema then judges.
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser(
    ['application/json', 'application/cloudevents+json', 'application/cloudevents-batch+json'],
    { parseAs: 'string' },
    (req, body, done) => (body === '' ? done(null, undefined) : json(req, body as string, done)),
  );

  await app.register(swagger, {
    openapi: {
      info: { title: 'Tollgate API', version: opts.version, description: 'Usage meter, cost ledger and quota gate for AI APIs.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.setErrorHandler((err: FastifyError | ApiError, req, reply) => {
    const e = apiErrorOf(err, { bodyLimit: opts.bodyLimit, contentType: req.headers['content-type'] });
    if (!e) req.log.error({ err }, 'request failed');
    const answer = e ?? internalError();
    return reply.status(answer.status).send(errorBody(answer));
  });
  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send(errorBody(new ApiError({ type: 'not_found', code: 'ROUTE_NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` })));
  });
  return app;
}
