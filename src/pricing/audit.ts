import { readFileSync } from 'node:fs';
import { Decimal } from 'decimal.js';
import type { PricingEngine } from './engine.ts';
import { litellmEntries, litellmName, litellmPrices } from './catalog/litellm.ts';
import { canonicalProvider } from './resolve.ts';
import type { Usage } from './types.ts';

/**
 * `npm run audit:prices`: what Tollgate would bill, per token class, compared with an independent
 * table (a dated snapshot of LiteLLM's, test/pricing/fixtures/). Every disagreement is printed;
 * the reviewed ones, each with its reason, are the table in docs/pricing.md ("Known differences"),
 * and a unit test fails when one appears that is not reviewed there (or a reviewed one is gone).
 */

export interface Disagreement {
  /** The LiteLLM key, as in its table. */
  key: string;
  /** The rate compared: input, output, cache_read, cache_write, cache_write_1h; `@>200k` for a context tier. */
  field: string;
  /** Tollgate's effective $/M (after fallbacks: a missing cache rate bills the input rate), or "unpriced". */
  catalog: string;
  litellm: string;
}

const CLASS: Record<string, string> = {
  input_mtok: 'input',
  output_mtok: 'output',
  cache_read_mtok: 'cache_read',
  cache_write_mtok: 'cache_write',
  cache_write_1h_mtok: 'cache_write_1h',
};

const same = (a: string, b: string) => new Decimal(a).eq(new Decimal(b));

/** Compares every entry of a LiteLLM-format table with what the engine bills at `at` (epoch ms). */
export function auditAgainstLitellm(engine: PricingEngine, table: Record<string, unknown>, at: number): Disagreement[] {
  const out: Disagreement[] = [];
  for (const [key, e] of litellmEntries(table)) {
    const n = litellmName(key, e);
    const provider = canonicalProvider(n.provider, engine.catalog).provider;
    const prices = litellmPrices(e);
    // The base rates, and each tier's, read from one quote that uses every class once.
    const starts = new Set<number>([0]);
    for (const p of Object.values(prices)) if (typeof p !== 'string') for (const t of p.tiers) starts.add(t.start);
    for (const start of [...starts].sort((a, b) => a - b)) {
      const usage: Usage = { input_tokens: start + 1, output_tokens: 1, cache_read_tokens: 1, cache_write_tokens: 2, cache_write_1h_tokens: 1 };
      const r = engine.price({ provider, model: n.model, region: n.region, time: at, usage });
      const suffix = start ? `@>${start / 1000}k` : '';
      for (const [k, p] of Object.entries(prices)) {
        const cls = CLASS[k];
        if (!cls) continue;
        const theirs = typeof p === 'string' ? p : start ? (p.tiers.filter((t) => t.start <= start).pop()?.price ?? p.base) : p.base;
        if (!r.priced) {
          out.push({ key, field: cls + suffix, catalog: 'unpriced', litellm: theirs });
          continue;
        }
        const ours = (r.snapshot.prices as Record<string, string>)[cls] ?? 'none';
        const tierOk = start === 0 || r.snapshot.tier_above === start;
        if (ours === 'none' || !same(ours, theirs) || !tierOk) out.push({ key, field: cls + suffix, catalog: tierOk ? ours : `${ours} (no tier)`, litellm: theirs });
      }
    }
  }
  return out;
}

/** The reviewed differences: the table between the audit markers in docs/pricing.md. */
export function reviewedDifferences(markdown: string): Array<Disagreement & { reason: string }> {
  const start = markdown.indexOf('<!-- audit:known-differences:start -->');
  const end = markdown.indexOf('<!-- audit:known-differences:end -->');
  if (start < 0 || end < start) return [];
  const rows: Array<Disagreement & { reason: string }> = [];
  for (const line of markdown.slice(start, end).split('\n')) {
    const cells = line.split('|').map((c) => c.trim().replace(/^`|`$/g, ''));
    if (cells.length < 7 || cells[1] === 'LiteLLM key' || /^-+$/.test(cells[1]!)) continue;
    rows.push({ key: cells[1]!, field: cells[2]!, catalog: cells[3]!, litellm: cells[4]!, reason: cells[5]! });
  }
  return rows;
}

const id = (d: Disagreement) => `${d.key}\u0000${d.field}\u0000${d.catalog}\u0000${d.litellm}`;

export interface AuditReport {
  snapshot: string;
  compared: number;
  disagreements: Array<Disagreement & { reason: string | null }>;
  unreviewed: Disagreement[];
  /** Reviewed differences the audit no longer finds (the docs list should lose them). */
  stale: Array<Disagreement & { reason: string }>;
}

export function auditReport(engine: PricingEngine, fixturePath: URL | string, docsPath: URL | string): AuditReport {
  const table = JSON.parse(readFileSync(fixturePath, 'utf8')) as Record<string, unknown> & { _snapshot?: { taken?: string } };
  const taken = table._snapshot?.taken ?? '1970-01-01';
  const found = auditAgainstLitellm(engine, table, Date.parse(`${taken}T12:00:00Z`));
  const reviewed = reviewedDifferences(readFileSync(docsPath, 'utf8'));
  const byId = new Map(reviewed.map((r) => [id(r), r]));
  const foundIds = new Set(found.map(id));
  return {
    snapshot: taken,
    compared: litellmEntries(table).length,
    disagreements: found.map((d) => ({ ...d, reason: byId.get(id(d))?.reason ?? null })),
    unreviewed: found.filter((d) => !byId.has(id(d))),
    stale: reviewed.filter((r) => !foundIds.has(id(r))),
  };
}

/** The audit as text: one line per disagreement, then the summary. */
export function formatAudit(r: AuditReport): string {
  const lines = [`audit:prices: Tollgate's catalog vs LiteLLM's table of ${r.snapshot} (${r.compared} models)`];
  for (const d of r.disagreements) lines.push(`${d.reason ? '  reviewed  ' : '  NEW       '}${d.key} ${d.field}: catalog ${d.catalog}, litellm ${d.litellm}${d.reason ? ` — ${d.reason}` : ''}`);
  for (const s of r.stale) lines.push(`  GONE      ${s.key} ${s.field}: listed in docs/pricing.md but no longer different (remove it there)`);
  lines.push(`${r.disagreements.length} disagreement(s): ${r.disagreements.length - r.unreviewed.length} reviewed, ${r.unreviewed.length} unreviewed; ${r.stale.length} stale review(s)`);
  return lines.join('\n') + '\n';
}
