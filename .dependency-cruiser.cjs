/**
 * Layering rules, checked by `npm test` (scripts/test.mjs) and `npm run lint:layers`.
 * - src/shared is the bottom: it imports no domain.
 * - src/http is the server shell: of the domains it imports only auth (keys and principals).
 * - No cycle may pass through two domains (a domain's own files may import each other freely).
 * - The SDK (src/client) uses only the providers' pure readers, never the gateway's internals.
 */
const DOMAINS = 'auth|events|pricing|rollups|meters|analysis|gateway|secrets|jobs|quotas|alerts|collectors|dashboard|client|cli';
module.exports = {
  forbidden: [
    {
      name: 'shared-imports-no-domain',
      comment: 'src/shared sits at the bottom: pass what it needs in, do not import a domain',
      severity: 'error',
      from: { path: '^src/shared/' },
      to: { path: `^src/(${DOMAINS}|app|config)(/|\\.ts$)` },
    },
    {
      name: 'http-imports-only-auth',
      comment: 'the server shell knows keys and principals, nothing else of the domains',
      severity: 'error',
      from: { path: '^src/http/' },
      to: { path: `^src/(${DOMAINS.replace('auth|', '')}|app|config)(/|\\.ts$)` },
    },
    {
      name: 'no-cycles-between-domains',
      comment: 'a cycle through two domains ties them together; move the shared piece down',
      severity: 'error',
      from: { path: '^src/([^/]+)/' },
      to: { circular: true, via: { pathNot: '^src/$1/' } },
    },
    {
      name: 'client-uses-only-provider-readers',
      comment: "the SDK imports the providers' pure usage readers, not the gateway's request path",
      severity: 'error',
      from: { path: '^src/client/' },
      to: { path: '^src/gateway/', pathNot: '^src/gateway/providers/' },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(\\.test\\.ts$|\\.fixture\\.ts$)' },
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
