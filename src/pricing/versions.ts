import { Decimal } from 'decimal.js';
import { compileCatalog, pickVersion, type Catalog, type RawCatalog } from './catalog/index.ts';
import { applyCorrections, type AppliedCorrection } from './catalog/corrections.ts';
import { isLitellmTable, litellmToCatalog } from './catalog/litellm.ts';
import type { PricingEngine } from './engine.ts';
import { canonicalProvider } from './resolve.ts';
import type { PriceSpec } from './types.ts';

/**
 * Catalog versions loaded at run time (`tollgate prices update`): reading a genai-prices data file
 * or LiteLLM's table, and what a new version changes against the prices in force before it.
 * Pure; the service stores versions and hands them to the engine.
 */

export type CatalogFormat = 'genai-prices' | 'litellm';

export interface ParsedCatalog {
  format: CatalogFormat;
  /** In genai-prices' format, before corrections. */
  raw: RawCatalog;
}

/** Reads a catalog file: genai-prices' `{source?, providers:[…]}` (or a bare providers array) or LiteLLM's table. */
export function parseCatalog(json: unknown, opts: { format?: CatalogFormat | 'auto'; loadedFrom: string; today: string }): ParsedCatalog {
  const format = opts.format && opts.format !== 'auto' ? opts.format : isLitellmTable(json) ? 'litellm' : 'genai-prices';
  if (format === 'litellm') {
    if (!isLitellmTable(json)) throw new Error(`${opts.loadedFrom} is not LiteLLM's model_prices_and_context_window.json (no entry has litellm_provider)`);
    const snapshot = (json as { _snapshot?: { taken?: string } })._snapshot?.taken;
    return { format, raw: litellmToCatalog(json, { version: snapshot ?? opts.today, url: opts.loadedFrom, generated_at: snapshot ?? opts.today }) };
  }
  const providers = Array.isArray(json) ? json : (json as { providers?: unknown })?.providers;
  if (!Array.isArray(providers) || !providers.every((p) => p && typeof p.id === 'string' && Array.isArray(p.models))) {
    throw new Error(`${opts.loadedFrom} is neither a genai-prices data file (providers with models) nor LiteLLM's table`);
  }
  const given = (Array.isArray(json) ? {} : ((json as { source?: Partial<RawCatalog['source']> }).source ?? {})) as Partial<RawCatalog['source']>;
  return {
    format,
    raw: {
      source: { name: given.name ?? '@pydantic/genai-prices', version: given.version ?? opts.today, url: given.url ?? opts.loadedFrom, license: given.license ?? 'MIT', generated_at: given.generated_at ?? opts.today },
      providers,
    },
  };
}

/** The label a stored version carries into price snapshots: "<source>@<version>+<effective date>". */
export function versionLabel(raw: RawCatalog, effectiveFrom: Date): string {
  return `${raw.source.name.replace(/^@pydantic\//, '')}@${raw.source.version}+${effectiveFrom.toISOString().slice(0, 10)}`;
}

export interface PriceMove {
  provider: string;
  model: string;
  /** input, output, cache_read, …, or `input@>200000` for a tier, `tiers`. */
  field: string;
  old: string | null;
  new: string | null;
  /** Where the old price came from (bundled catalog or an earlier version) and under which id. */
  was: string;
}

export interface CatalogChanges {
  models: number;
  added: Array<{ provider: string; model: string; prices: PriceSpec | null }>;
  moved: PriceMove[];
  unchanged: number;
  corrections: AppliedCorrection[];
}

const FIELDS = ['input', 'output', 'cache_read', 'cache_write', 'cache_write_1h', 'reasoning', 'input_audio', 'output_audio', 'per_request'] as const;

const eq = (a: string | undefined, b: string | undefined) => (a === undefined || b === undefined ? a === b : new Decimal(a).eq(new Decimal(b)));

/** Field-by-field differences of two prices, tiers included (by threshold). */
export function specChanges(before: PriceSpec | null, after: PriceSpec | null): Array<{ field: string; old: string | null; new: string | null }> {
  const out: Array<{ field: string; old: string | null; new: string | null }> = [];
  const b = before ?? {};
  const a = after ?? {};
  for (const f of FIELDS) if (!eq(b[f], a[f])) out.push({ field: f, old: b[f] ?? null, new: a[f] ?? null });
  const tiers = new Set([...(b.tiers ?? []), ...(a.tiers ?? [])].map((t) => t.above));
  for (const above of [...tiers].sort((x, y) => x - y)) {
    const tb = b.tiers?.find((t) => t.above === above);
    const ta = a.tiers?.find((t) => t.above === above);
    for (const f of FIELDS) if (!eq(tb?.[f], ta?.[f])) out.push({ field: `${f}@>${above}`, old: tb?.[f] ?? null, new: ta?.[f] ?? null });
  }
  return out;
}

/**
 * What a new version changes at its effective date: each of its models looked up the way events
 * are (through the versions before it, then the bundled catalog); a model nothing knew is added.
 */
export function diffCatalog(engine: PricingEngine, next: Catalog, at: number, onProgress?: (done: number, total: number) => void): Omit<CatalogChanges, 'corrections'> {
  const total = next.providers.reduce((n, p) => n + p.models.length, 0);
  const changes: Omit<CatalogChanges, 'corrections'> = { models: total, added: [], moved: [], unchanged: 0 };
  let done = 0;
  for (const p of next.providers) {
    const provider = canonicalProvider(p.id, engine.catalog).provider;
    for (const m of p.models) {
      const now = pickVersion(m.versions(), at).spec;
      const before = engine.catalogPrice(provider, m.id, at);
      if (!before) changes.added.push({ provider, model: m.id, prices: now });
      else {
        const diff = specChanges(before.spec, now);
        if (!diff.length) changes.unchanged++;
        for (const d of diff) changes.moved.push({ provider, model: m.id, ...d, was: before.model_id === m.id ? before.label : `${before.label} ${before.model_id}` });
      }
      if (++done % 200 === 0) onProgress?.(done, total);
    }
  }
  onProgress?.(total, total);
  return changes;
}

/** Corrections that apply to a loaded catalog (reported beside the changes). */
export function correctionsFor(raw: RawCatalog): AppliedCorrection[] {
  return applyCorrections(raw).applied;
}

export { compileCatalog };

/** The change summary as text (what `tollgate prices update` prints). */
export function formatChanges(c: CatalogChanges, label: string, effectiveFrom: Date, limit = Infinity): string {
  const lines = [`${label}: ${c.models} model(s), in force from ${effectiveFrom.toISOString()}`];
  lines.push(`  ${c.added.length} added, ${new Set(c.moved.map((m) => `${m.provider}/${m.model}`)).size} with prices moved, ${c.unchanged} unchanged`);
  for (const a of c.added.slice(0, limit)) lines.push(`  + ${a.provider}/${a.model}${a.prices ? ` (input ${a.prices.input ?? '-'}, output ${a.prices.output ?? '-'})` : ' (no token prices)'}`);
  if (c.added.length > limit) lines.push(`  … ${c.added.length - limit} more added`);
  for (const m of c.moved.slice(0, limit)) lines.push(`  ~ ${m.provider}/${m.model} ${m.field}: ${m.old ?? '-'} → ${m.new ?? '-'}  (was ${m.was})`);
  if (c.moved.length > limit) lines.push(`  … ${c.moved.length - limit} more price moves`);
  for (const k of c.corrections) lines.push(`  ! correction kept: ${k.provider}/${k.model}: ${k.why}`);
  return lines.join('\n') + '\n';
}
