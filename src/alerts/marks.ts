import type { StoredEvent } from '../events/types.ts';
import type { AlertCtx } from './context.ts';
import type { RuleCache } from './rules.ts';
import { budgetEval } from './sweep.ts';
import type { Candidate, Firing } from './types.ts';

/**
 * Budget rules at ingest: after a commit, the budget rules whose meters the rows can move are
 * marked (a set lookup per rule per batch; ingest never waits), and a short timer evaluates the
 * marked ones together (`evaluate_delay_ms`).
 */
export interface BudgetMarks {
  onIngest(rows: StoredEvent[]): void;
  /** Evaluates the marked budget rules now. */
  flush(): Promise<Firing[]>;
  close(): void;
}

export function budgetMarks(ctx: AlertCtx, cache: RuleCache, decide: (c: Candidate[], now?: Date) => Promise<Firing[]>): BudgetMarks {
  const dirty = new Set<string>();
  let flushTimer: NodeJS.Timeout | undefined;
  let marking: Promise<unknown> = Promise.resolve();

  /** Marks the budget rules these rows can move; a short timer then evaluates them together. */
  function mark(rows: StoredEvent[]) {
    const budgets = cache.budgets();
    if (!budgets?.length) return;
    const types = new Set<string>();
    const subjects = new Set<string | null>();
    for (const r of rows) {
      types.add(r.type);
      subjects.add(r.subject);
    }
    let any = false;
    for (const b of budgets) {
      if (dirty.has(b.rule.id)) continue;
      let hit = false;
      for (const t of types) if (b.types(t)) hit = true;
      if (!hit) continue;
      if (b.rule.filter.subject !== undefined && !subjects.has(b.rule.filter.subject)) continue;
      dirty.add(b.rule.id);
      any = true;
    }
    if (any && !flushTimer) {
      flushTimer = setTimeout(() => {
        flushTimer = undefined;
        api.flush().catch((err) => ctx.logger.warn({ err }, 'alerts: budget evaluation failed'));
      }, ctx.config.evaluate_delay_ms);
      flushTimer.unref();
    }
  }

  const api: BudgetMarks = {
    onIngest(rows) {
      if (!rows.length) return;
      if (cache.freshBudgets()) return mark(rows);
      const p = cache.rules().then(
        () => mark(rows),
        () => {},
      );
      marking = marking.then(() => p);
    },
    async flush() {
      await marking;
      if (flushTimer) clearTimeout(flushTimer);
      flushTimer = undefined;
      if (!dirty.size) return [];
      const ids = new Set(dirty);
      dirty.clear();
      const now = ctx.clock.now();
      const list = (await cache.rules()).filter((r) => ids.has(r.id));
      return decide(await budgetEval(ctx, list, now), now);
    },
    close() {
      if (flushTimer) clearTimeout(flushTimer);
    },
  };
  return api;
}
