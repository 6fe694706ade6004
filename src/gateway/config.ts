import { z } from 'zod';

/** `gateway:` config section (imported by src/shared/config.ts). Defaults are filled in by resolveGatewayConfig. */
const providerSchema = z
  .object({
    /** API family; defaults from the provider's name (openai, azure, anthropic, bedrock), else openai. */
    type: z.enum(['openai', 'azure', 'anthropic', 'bedrock']).optional(),
    base_url: z.string().url('must be a URL such as https://api.openai.com/v1').optional(),
    /** Name of the secret holding the upstream key (for bedrock: AWS credentials). */
    credential: z.string().min(1).optional(),
    /** Key from the environment (OPENAI_API_KEY, ANTHROPIC_API_KEY, …); the secret store is preferred. */
    api_key: z.string().min(1).optional(),
    /** Azure OpenAI: api-version query parameter, and model → deployment names. */
    api_version: z.string().min(1).optional(),
    deployments: z.record(z.string(), z.string()).optional(),
    /** Bedrock: AWS region (regional endpoint bedrock-runtime.<region>.amazonaws.com unless base_url is set). */
    region: z.string().min(1).optional(),
    access_key_id: z.string().min(1).optional(),
    secret_access_key: z.string().min(1).optional(),
    session_token: z.string().min(1).optional(),
    /** Requested model → the model id this upstream knows it by (e.g. Bedrock model ids). */
    model_map: z.record(z.string(), z.string()).optional(),
    /** Per-attempt timeout (until response headers), overriding gateway.timeout_ms. */
    timeout_ms: z.coerce.number().int().min(1).optional(),
    /** Label for the event's provider field; default the provider's name. */
    provider_name: z.string().min(1).optional(),
  })
  .strict();

const routeSchema = z
  .object({
    /** Which client API the route speaks; default from the route's name, else openai. */
    api: z.enum(['openai', 'anthropic', 'bedrock']).optional(),
    /** Providers to try in order; the next one is tried on 429, 5xx, timeout or connection error. */
    targets: z.array(z.string().min(1)).min(1),
    /** Feature tag recorded on every event of this route (x-tollgate-feature overrides). */
    feature: z.string().min(1).max(512).optional(),
    timeout_ms: z.coerce.number().int().min(1).optional(),
  })
  .strict();

export const gatewayConfigSchema = z
  .object({
    enabled: z.coerce.boolean().default(true),
    providers: z.record(z.string(), providerSchema).default({}),
    routes: z.record(z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, 'route names are lower-case letters, digits, "-", "_"'), routeSchema).default({}),
    timeout_ms: z.coerce.number().int().min(1).default(60_000),
    flush_interval_ms: z.coerce.number().int().min(1).default(50),
    flush_max_events: z.coerce.number().int().min(1).default(500),
    /** Distinct model label values in metrics before the rest are counted as "other". */
    max_model_labels: z.coerce.number().int().min(1).default(100),
    /** How long decrypted upstream credentials and key policies are cached in memory. */
    cache_ttl_ms: z.coerce.number().int().min(0).default(10_000),
  })
  .strict()
  .default({ enabled: true, providers: {}, routes: {}, timeout_ms: 60_000, flush_interval_ms: 50, flush_max_events: 500, max_model_labels: 100, cache_ttl_ms: 10_000 });

export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;
export type ProviderConfig = z.infer<typeof providerSchema>;
export type RouteConfig = z.infer<typeof routeSchema>;

export const GATEWAY_ENV: Array<[string, string[]]> = [
  ['TOLLGATE_OPENAI_BASE_URL', ['gateway', 'providers', 'openai', 'base_url']],
  ['OPENAI_API_KEY', ['gateway', 'providers', 'openai', 'api_key']],
  ['TOLLGATE_ANTHROPIC_BASE_URL', ['gateway', 'providers', 'anthropic', 'base_url']],
  ['ANTHROPIC_API_KEY', ['gateway', 'providers', 'anthropic', 'api_key']],
  ['TOLLGATE_AZURE_OPENAI_BASE_URL', ['gateway', 'providers', 'azure', 'base_url']],
  ['AZURE_OPENAI_API_KEY', ['gateway', 'providers', 'azure', 'api_key']],
  ['TOLLGATE_BEDROCK_BASE_URL', ['gateway', 'providers', 'bedrock', 'base_url']],
  ['TOLLGATE_BEDROCK_REGION', ['gateway', 'providers', 'bedrock', 'region']],
  ['TOLLGATE_GATEWAY_TIMEOUT_MS', ['gateway', 'timeout_ms']],
];

export interface ResolvedProvider extends ProviderConfig {
  name: string;
  type: 'openai' | 'azure' | 'anthropic' | 'bedrock';
  base_url: string;
  provider_name: string;
}

export interface ResolvedRoute extends RouteConfig {
  name: string;
  api: 'openai' | 'anthropic' | 'bedrock';
}

const DEFAULT_URL: Record<string, string> = {
  openai: 'https://api.openai.com/v1',
  anthropic: 'https://api.anthropic.com',
};

/** Fills in per-name defaults and checks every route names known providers of a fitting type. */
export function resolveGatewayConfig(g: GatewayConfig): { providers: Map<string, ResolvedProvider>; routes: Map<string, ResolvedRoute> } {
  const providers = new Map<string, ResolvedProvider>();
  const names = new Set(['openai', 'anthropic', 'bedrock', ...Object.keys(g.providers)]);
  for (const name of names) {
    const p = g.providers[name] ?? {};
    const type = p.type ?? ((['openai', 'azure', 'anthropic', 'bedrock'] as const).find((t) => t === name) ?? 'openai');
    let base = p.base_url ?? DEFAULT_URL[type];
    if (type === 'bedrock') base ??= `https://bedrock-runtime.${p.region ?? 'us-east-1'}.amazonaws.com`;
    if (!base) {
      if (g.providers[name]) throw new Error(`gateway.providers.${name}.base_url is required for a ${type} provider`);
      continue;
    }
    providers.set(name, { ...p, name, type, base_url: base.replace(/\/+$/, ''), provider_name: p.provider_name ?? name });
  }
  const routes = new Map<string, ResolvedRoute>();
  const defaults: Record<string, RouteConfig> = { openai: { targets: ['openai'] }, anthropic: { targets: ['anthropic'] }, bedrock: { targets: ['bedrock'] } };
  for (const [name, r] of Object.entries({ ...defaults, ...g.routes })) {
    const api = r.api ?? ((['openai', 'anthropic', 'bedrock'] as const).find((a) => a === name) ?? 'openai');
    for (const t of r.targets) {
      const p = providers.get(t);
      if (!p) throw new Error(`gateway.routes.${name}.targets: unknown provider "${t}"`);
      const ok = api === 'openai' ? p.type === 'openai' || p.type === 'azure' : api === 'anthropic' ? p.type === 'anthropic' || p.type === 'bedrock' : p.type === 'bedrock';
      if (!ok) throw new Error(`gateway.routes.${name}.targets: provider "${t}" (${p.type}) cannot serve ${api} requests`);
    }
    routes.set(name, { ...r, name, api });
  }
  return { providers, routes };
}
