import type { Db } from '../shared/db/index.ts';
import type { Logger } from '../shared/log.ts';
import { money } from '../shared/money.ts';
import type { EventStore, CostUpdate } from '../events/store.ts';
import type { IngestHooks, StoredEvent } from '../events/types.ts';
import type { PricingEngine } from './engine.ts';
import type { PricingStore } from './store.ts';

/**
 * Reprice: pages of stored llm.usage events in [from, to) priced again with the prices in force
 * now; each page's changed rows are updated and handed to every `inTransaction` hook (kind
 * 'repriced') in one transaction, so every aggregate follows.
 */

export interface RepriceOptions {
  from: Date;
  to: Date;
  /** Reprice every llm.usage event in the range, not only the unpriced ones. */
  all?: boolean;
  pageSize?: number;
  onProgress?(p: RepriceProgress): void;
}

export interface RepriceProgress {
  total: number;
  scanned: number;
  updated: number;
  priced: number;
  still_unpriced: number;
}

export interface RepriceDeps {
  db: Db;
  store: PricingStore;
  engine: PricingEngine;
  eventStore: EventStore;
  hooks: IngestHooks;
  logger: Logger;
}

/** JSON with sorted keys: jsonb reorders keys, so compare snapshots this way. */
function stable(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  return `{${Object.keys(v as object)
    .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${stable((v as Record<string, unknown>)[k])}`)
    .join(',')}}`;
}

const sameMoney = (a: string | null, b: string | null) => (a === null || b === null ? a === b : money(a).eq(money(b)));

/** One page priced again: the rows whose pricing changed, counted into `progress`. */
function repricePage(engine: PricingEngine, page: StoredEvent[], progress: RepriceProgress): CostUpdate[] {
  const updates: CostUpdate[] = [];
  for (const row of page) {
    const next: StoredEvent = { ...row };
    engine.priceRow(next);
    progress.scanned++;
    if (next.unpriced) progress.still_unpriced++;
    else if (row.unpriced) progress.priced++;
    const changed =
      next.unpriced !== row.unpriced ||
      next.cost_source !== row.cost_source ||
      !sameMoney(next.cost, row.cost) ||
      !sameMoney(next.computed_cost, row.computed_cost) ||
      stable(next.price) !== stable(row.price);
    if (changed) updates.push({ seq: row.seq, cost: next.cost, cost_source: next.cost_source, computed_cost: next.computed_cost, price: next.price, unpriced: next.unpriced });
  }
  return updates;
}

export async function reprice(d: RepriceDeps, opts: RepriceOptions): Promise<RepriceProgress> {
  const all = opts.all === true;
  const limit = opts.pageSize ?? 500;
  const progress: RepriceProgress = { total: await d.store.countEvents({ from: opts.from, to: opts.to, all }), scanned: 0, updated: 0, priced: 0, still_unpriced: 0 };
  opts.onProgress?.(progress);
  let afterSeq = '0';
  for (;;) {
    const page = await d.store.pageEvents({ from: opts.from, to: opts.to, all, afterSeq, limit });
    if (!page.length) break;
    afterSeq = page[page.length - 1]!.seq;
    const updates = repricePage(d.engine, page, progress);
    if (updates.length) {
      await d.db.transaction(async (tx) => {
        const changes = await d.eventStore.updateCosts(tx, updates);
        for (const hook of d.hooks.inTransaction) if (changes.length) await hook.run(tx, { kind: 'repriced', changes });
      });
      progress.updated += updates.length;
    }
    opts.onProgress?.(progress);
  }
  d.logger.info({ from: opts.from, to: opts.to, all, ...progress }, 'reprice finished');
  return progress;
}
