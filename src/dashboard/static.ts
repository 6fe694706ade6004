import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import helmet from '@fastify/helmet';
import fastifyStatic from '@fastify/static';
import type { App } from '../http/server.ts';

/** Where `npm run build:web` puts the app (not committed; `npm install` builds it). */
export const WEB_DIST = fileURLToPath(new URL('../../web/dist/', import.meta.url));

/**
 * The Content-Security-Policy the app fits: its own scripts only (Vite emits no inline script),
 * styles from itself plus inline style attributes (React and ECharts set element styles), data:
 * images (ECharts' saved-image toolbox is off, but tooltips may draw them), API calls and the
 * event stream to the same origin, never framed. No upgrade-insecure-requests: the default
 * deployment is plain HTTP on 127.0.0.1 or a LAN address.
 */
export const CSP_DIRECTIVES = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  imgSrc: ["'self'", 'data:'],
  fontSrc: ["'self'"],
  connectSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  upgradeInsecureRequests: null,
};

/**
 * Serves the built app at `/` (hash routing: one index.html), with helmet's security headers on
 * these responses only (the API's JSON and /docs keep theirs). Hashed assets are immutable for a
 * year; index.html is revalidated each load so a new build shows at once.
 */
export async function registerStatic(app: App, dist = WEB_DIST) {
  await app.register(async (scope) => {
    await scope.register(helmet, {
      contentSecurityPolicy: { useDefaults: false, directives: CSP_DIRECTIVES },
      crossOriginEmbedderPolicy: false,
      strictTransportSecurity: false,
    });
    if (!existsSync(`${dist}index.html`)) {
      scope.get('/', { schema: { hide: true } }, async (_req, reply) =>
        reply
          .type('text/html; charset=utf-8')
          .header('cache-control', 'no-cache')
          .send('<!doctype html><title>Tollgate</title><p>The dashboard is not built. Run <code>npm run build:web</code> (npm install does it) and restart.</p>'),
      );
      return;
    }
    await scope.register(fastifyStatic, {
      root: dist,
      prefix: '/',
      wildcard: false,
      index: ['index.html'],
      cacheControl: false,
      setHeaders(res, filePath) {
        res.setHeader('cache-control', /[\\/]assets[\\/]/.test(filePath) ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
    });
  });
}
