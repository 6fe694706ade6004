/**
 * Regenerates src/pricing/catalog/genai-prices.json from the installed @pydantic/genai-prices
 * package (no network). Run after bumping the package:
 *
 *   node --import tsx scripts/update-prices.ts [--date YYYY-MM-DD]
 *
 * Only the data is used (never calcPrice, which computes in floats and treats input_tokens as
 * including cache tokens). Prices are written as decimal strings, exactly as the source spells
 * them, so nothing passes through float arithmetic on the way to the catalog.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Decimal } from 'decimal.js';
import * as genai from '@pydantic/genai-prices';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(here, '..', 'src', 'pricing', 'catalog', 'genai-prices.json');
// The package's exports hide package.json; its main entry lives in <pkg>/dist.
const require = createRequire(import.meta.url);
const pkgDir = path.resolve(path.dirname(require.resolve('@pydantic/genai-prices')), '..');
const pkg = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { version: string };

const dateArg = process.argv.indexOf('--date');
const generatedAt = dateArg > 0 ? process.argv[dateArg + 1]! : new Date().toISOString().slice(0, 10);

// The package exports lookups, not the list of providers; the bundled data literal names each
// provider with a top-level `id:` line. Every id is then fetched through the public findProvider.
const bundle = readFileSync(path.join(pkgDir, 'dist', 'index.js'), 'utf8');
const ids = [...bundle.matchAll(/^ {4}id: "([^"]+)",$/gm)].map((m) => m[1]!);
if (ids.length < 10) throw new Error(`found only ${ids.length} providers in the bundle; the package layout changed`);

const dec = (n: unknown): string => {
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) throw new Error(`bad price ${String(n)}`);
  return new Decimal(String(n)).toFixed();
};
const price = (v: any): unknown =>
  typeof v === 'number' ? dec(v) : { base: dec(v.base), tiers: v.tiers.map((t: any) => ({ start: t.start, price: dec(t.price) })) };
const prices = (p: Record<string, unknown>) => Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined).map(([k, v]) => [k, price(v)]));

const providers = ids.map((id) => {
  const p = genai.findProvider({ providerId: id }) as any;
  if (!p || p.id !== id) throw new Error(`provider ${id} not found through findProvider`);
  return {
    id: p.id,
    name: p.name,
    ...(p.provider_match ? { provider_match: p.provider_match } : {}),
    ...(p.model_match ? { model_match: p.model_match } : {}),
    ...(p.fallback_model_providers ? { fallback: p.fallback_model_providers } : {}),
    ...(p.pricing_urls ? { pricing_urls: p.pricing_urls } : {}),
    models: p.models.map((m: any) => ({
      id: m.id,
      ...(m.name ? { name: m.name } : {}),
      ...(m.deprecated ? { deprecated: true } : {}),
      ...(m.context_window ? { context_window: m.context_window } : {}),
      match: m.match,
      prices: Array.isArray(m.prices)
        ? m.prices.map((c: any) => ({ ...(c.constraint ? { when: c.constraint } : {}), prices: prices(c.prices) }))
        : [{ prices: prices(m.prices) }],
    })),
  };
});

const catalog = {
  source: {
    name: '@pydantic/genai-prices',
    version: pkg.version,
    url: 'https://github.com/pydantic/genai-prices',
    license: 'MIT',
    generated_at: generatedAt,
  },
  providers,
};
writeFileSync(out, JSON.stringify(catalog) + '\n');
const models = providers.reduce((n, p) => n + p.models.length, 0);
process.stdout.write(`wrote ${path.relative(process.cwd(), out)}: ${providers.length} providers, ${models} models from ${catalog.source.name}@${pkg.version} (${generatedAt})\n`);
