import { z } from 'zod';
import { API_NAMES, familyOf, PROVIDER_ENV, PROVIDER_TYPES, type ApiName, type ProviderFamily, type ProviderType } from './providers/index.ts';

/** `gateway:` config section (imported by src/config.ts). Defaults are filled in by resolveGatewayConfig. */
const providerSchema = z
  .object({
    /** API family (providers/index.ts); defaults from the provider's name when it names a family, else openai. */
    type: z.enum(PROVIDER_TYPES).optional(),
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
    api: z.enum(API_NAMES).optional(),
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

export const GATEWAY_ENV: Array<[string, string[]]> = [...PROVIDER_ENV, ['TOLLGATE_GATEWAY_TIMEOUT_MS', ['gateway', 'timeout_ms']]];

export interface ResolvedProvider extends ProviderConfig {
  name: string;
  type: ProviderType;
  base_url: string;
  provider_name: string;
  /** The family's object (providers/<type>/): how to call this provider. */
  family: ProviderFamily;
}

export interface ResolvedRoute extends RouteConfig {
  name: string;
  api: ApiName;
}

/** Providers and routes that exist without config: one per client API, named like it. */
const DEFAULT_NAMES = API_NAMES as readonly string[];

/** Fills in per-name defaults and checks every route names known providers of a fitting type. */
export function resolveGatewayConfig(g: GatewayConfig): { providers: Map<string, ResolvedProvider>; routes: Map<string, ResolvedRoute> } {
  const providers = new Map<string, ResolvedProvider>();
  for (const name of new Set([...DEFAULT_NAMES, ...Object.keys(g.providers)])) {
    const p = g.providers[name] ?? {};
    const type = p.type ?? (familyOf(name) ? (name as ProviderType) : 'openai');
    const family = familyOf(type)!;
    const base = p.base_url ?? family.defaultBaseUrl?.(p);
    if (!base) {
      if (g.providers[name]) throw new Error(`gateway.providers.${name}.base_url is required for a ${type} provider`);
      continue;
    }
    providers.set(name, { ...p, name, type, base_url: base.replace(/\/+$/, ''), provider_name: p.provider_name ?? name, family });
  }
  const routes = new Map<string, ResolvedRoute>();
  const defaults: Record<string, RouteConfig> = Object.fromEntries(DEFAULT_NAMES.filter((n) => providers.has(n)).map((n) => [n, { targets: [n] }]));
  for (const [name, r] of Object.entries({ ...defaults, ...g.routes })) {
    const api = r.api ?? ((API_NAMES as readonly string[]).includes(name) ? (name as ApiName) : 'openai');
    for (const t of r.targets) {
      const p = providers.get(t);
      if (!p) throw new Error(`gateway.routes.${name}.targets: unknown provider "${t}"`);
      if (!p.family.serves.includes(api)) throw new Error(`gateway.routes.${name}.targets: provider "${t}" (${p.type}) cannot serve ${api} requests`);
    }
    routes.set(name, { ...r, name, api });
  }
  return { providers, routes };
}
