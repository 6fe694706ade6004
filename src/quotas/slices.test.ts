import { afterEach, describe, expect, it } from 'vitest';
import { Money } from '../shared/money.ts';
import { fixedClock } from '../shared/clock.ts';
import type { Logger } from '../shared/log.ts';
import { run } from './engine.ts';
import { sliceBook } from './slices.ts';
import type { Entitlement, QuotaStore } from './store.ts';
import type { Snapshot } from './usage.ts';

const T0 = new Date('2026-01-10T00:00:00Z');
const thresholds = { warning: '0.9', critical: '0.95', block: '1.05' };
const ent: Entitlement = {
  id: 'ent_1', subject: 'user-1', team: null, api_key: null, meter: 'llm_tokens', filter: {}, period: 'month', tz: 'UTC', week_start: 1,
  thresholds, purchase_url: null, enabled: true, level: 'ok', created_at: T0, updated_at: T0,
};
const snap: Snapshot = {
  ent,
  avg: null,
  at: T0.getTime(),
  result: run({
    tz: 'UTC', period: 'month', thresholds, start: new Date('2026-01-01T00:00:00Z'), now: T0, usage: [],
    grants: [{ id: 'g', kind: 'free', amount: '1000', priority: 10, effective_at: new Date('2026-01-01T00:00:00Z'), expires_at: null, recurring: null, voided_at: null, created_at: T0 }],
  }),
};

const cfg = { slice_fraction: 0.1, slice_max_calls: 32, slice_idle_ms: 200, slice_max_age_ms: 1000, settle_hold_ms: 3000, reservation_ttl_s: 600 };

/** A store that hands out slices but cannot take them back (the database went away meanwhile). */
function goneStore(): QuotaStore {
  const gone = async () => {
    throw new Error('the database is gone');
  };
  return { takeSlice: async () => ({ ok: true, size: '100', reserved: '100' }), release: gone, settle: gone, shrinkSlice: gone, growSlice: gone } as unknown as QuotaStore;
}

describe('slices', () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => void unhandled.push(err);
  afterEach(() => void process.off('unhandledRejection', onUnhandled));

  it('a slice the store cannot take back is logged, not an unhandled rejection (which ends the process)', async () => {
    process.on('unhandledRejection', onUnhandled);
    const warned: string[] = [];
    const logger = { warn: (_o: unknown, msg: string) => void warned.push(msg) } as unknown as Logger;
    const book = sliceBook({ store: goneStore(), clock: fixedClock(T0), logger, cfg, snapshot: () => snap });
    for (const settle of [false, true]) {
      const t = await book.admit(ent, new Money(10));
      if (!t.ok) throw new Error('refused');
      if (settle) book.settle(t.hold, new Money(8));
      else book.release(t.hold);
      await book.close();
    }
    await new Promise((r) => setTimeout(r, 20));
    expect(warned).toEqual(['could not give a quota slice back (it expires by its ttl)', 'could not give a quota slice back (it expires by its ttl)']);
    expect(unhandled).toEqual([]);
  });
});
