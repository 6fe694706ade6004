import type { Catalog, CatalogModel, CatalogProvider } from './catalog/index.ts';

/**
 * Model-name resolution, pure: (provider, model, region?) as an event names them → the Tollgate
 * provider id, the catalog entry, and the normalised model name overrides are keyed by.
 * The table in src/pricing/resolve.test.ts is the specification.
 */

/** Provider names seen in the wild → Tollgate provider id. */
const PROVIDER_ALIASES: Record<string, string> = {
  openai: 'openai',
  'openai-chat': 'openai',
  azure: 'azure',
  'azure-openai': 'azure',
  azure_openai: 'azure',
  azureopenai: 'azure',
  'azure-ai': 'azure',
  anthropic: 'anthropic',
  claude: 'anthropic',
  google: 'google',
  gemini: 'google',
  'google-ai': 'google',
  'google-ai-studio': 'google',
  'google-gla': 'google',
  vertex: 'google',
  'vertex-ai': 'google',
  vertex_ai: 'google',
  vertexai: 'google',
  'google-vertex': 'google',
  'google-vertex-ai': 'google',
  bedrock: 'bedrock',
  aws: 'bedrock',
  'aws-bedrock': 'bedrock',
  aws_bedrock: 'bedrock',
  'amazon-bedrock': 'bedrock',
  amazon_bedrock: 'bedrock',
  'bedrock-runtime': 'bedrock',
  mistral: 'mistral',
  mistralai: 'mistral',
  'mistral-ai': 'mistral',
  deepseek: 'deepseek',
  xai: 'xai',
  'x-ai': 'xai',
  grok: 'xai',
};

/** Tollgate provider id → genai-prices provider id where they differ. */
const CATALOG_ID: Record<string, string> = { bedrock: 'aws', xai: 'x-ai' };

/** Bedrock cross-region inference profile prefixes. */
const BEDROCK_PROFILE = /^(global|us|us-gov|eu|apac|jp|au|ca|in)\./;
const BEDROCK_ARN = /^arn:aws[a-z-]*:bedrock:([a-z0-9-]*):\d*:(?:inference-profile|foundation-model|application-inference-profile)\/(.+)$/;

export interface ProviderId {
  /** Tollgate's id: openai, azure, anthropic, google, bedrock, mistral, deepseek, xai, or the catalog's / the given name. */
  provider: string;
  /** The catalog provider, when there is one. */
  catalog: CatalogProvider | null;
}

export function canonicalProvider(name: string, catalog: Catalog): ProviderId {
  const n = name.trim().toLowerCase();
  const alias = PROVIDER_ALIASES[n];
  if (alias) return { provider: alias, catalog: catalog.byId.get(CATALOG_ID[alias] ?? alias) ?? null };
  const direct = catalog.byId.get(n);
  if (direct) return { provider: toTollgateId(direct.id), catalog: direct };
  const matched = catalog.providers.find((p) => p.providerMatch?.(n));
  if (matched) return { provider: toTollgateId(matched.id), catalog: matched };
  return { provider: n, catalog: null };
}

function toTollgateId(catalogId: string): string {
  for (const [k, v] of Object.entries(CATALOG_ID)) if (v === catalogId) return k;
  return catalogId;
}

export interface Normalised {
  /** Lower-cased, trimmed, provider prefix / ARN / "models/" stripped. Overrides are keyed by this. */
  model: string;
  /** The region given, or the one an ARN names. */
  region: string | null;
  /** Bedrock cross-region inference profile prefix (global, us, eu, apac, …). */
  profile: string | null;
}

export function normaliseModel(provider: string, model: string, region: string | null | undefined, catalog: Catalog): Normalised {
  let m = model.trim().toLowerCase();
  let r = region?.trim().toLowerCase() || null;
  const arn = BEDROCK_ARN.exec(m);
  if (arn) {
    if (!r && arn[1]) r = arn[1];
    m = arn[2]!;
  }
  // Vertex resource names and the Gemini SDK's "models/…".
  m = m.replace(/^(?:projects\/[^/]+\/locations\/[^/]+\/)?publishers\/[^/]+\/models\//, '').replace(/^models\//, '');
  // "openai/gpt-4o", "bedrock/us.anthropic…", "azure/…": strip a prefix naming the same provider
  // (a router's own catalog, e.g. openrouter's "anthropic/claude-…", keeps its prefix).
  for (;;) {
    const slash = m.indexOf('/');
    if (slash <= 0) break;
    const prefix = m.slice(0, slash);
    const same = canonicalProvider(prefix, catalog).provider === provider;
    if (!same && !(provider === 'bedrock' && (prefix === 'converse' || prefix === 'invoke'))) break;
    m = m.slice(slash + 1);
  }
  const profile = provider === 'bedrock' ? (BEDROCK_PROFILE.exec(m)?.[1] ?? null) : null;
  return { model: m, region: r, profile };
}

// genai-prices' date normalisation: "-20240806" → "-2024-08-06" for catalogs that spell dates with dashes.
const COMPACT_DATE = /(-)(20\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?=-|:|$)/g;

function findIn(p: CatalogProvider, model: string, catalog: Catalog, depth = 0): CatalogModel | null {
  const hit = p.models.find((m) => m.match(model));
  if (hit) return hit;
  if (depth === 0) {
    for (const f of p.fallback) {
      const fp = catalog.byId.get(f);
      const h = fp ? findIn(fp, model, catalog, 1) : null;
      if (h) return h;
    }
  }
  return null;
}

export interface Resolution {
  provider: string;
  catalog_provider: string | null;
  /** Normalised model name as requested. */
  model: string;
  /** Catalog model id, or null when the catalog does not know it. */
  model_id: string | null;
  catalog_model: CatalogModel | null;
  region: string | null;
  profile: string | null;
}

/** Resolves what an event names to a catalog entry (or none). Pure over the static catalog. */
export function resolveModel(provider: string, model: string, region: string | null | undefined, catalog: Catalog): Resolution {
  const pid = canonicalProvider(provider, catalog);
  const n = normaliseModel(pid.provider, model, region, catalog);
  let hit: CatalogModel | null = null;
  if (pid.catalog) {
    hit = findIn(pid.catalog, n.model, catalog);
    if (!hit) {
      const dashed = n.model.replace(COMPACT_DATE, '$1$2-$3-$4');
      if (dashed !== n.model) hit = findIn(pid.catalog, dashed, catalog);
    }
  }
  return {
    provider: pid.provider,
    catalog_provider: pid.catalog?.id ?? null,
    model: n.model,
    model_id: hit?.id ?? null,
    catalog_model: hit,
    region: n.region,
    profile: n.profile,
  };
}
