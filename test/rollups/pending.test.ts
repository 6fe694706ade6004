import { describe, expect, it } from 'vitest';
import { testApp, llmEvent } from '../helpers/app.ts';
import { freshDb } from '../helpers/db.ts';
import { fixedClock } from '../../src/shared/clock.ts';
import { rollupService } from '../../src/rollups/service.ts';

/** No silent loss: the backlog the drain has not folded yet is visible (tollgate_rollup_pending). */
describe('rollup backlog', () => {
  it('/metrics shows tollgate_rollup_pending in batches and events, and a drained queue reads 0', async () => {
    const db = await freshDb();
    const app = await testApp({ db, clock: fixedClock('2026-02-01T00:00:00Z') });
    try {
      const r = await app.request('POST', '/v1/events', { body: [llmEvent('pend-1'), llmEvent('pend-2')] });
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      await app.tg.rollups.drain();
      const text = String((await app.request('GET', '/metrics', { key: null })).body);
      expect(text).toMatch(/^tollgate_rollup_pending\{unit="batches"\} 0$/m);
      expect(text).toMatch(/^tollgate_rollup_pending\{unit="events"\} 0$/m);
    } finally {
      await app.close(); // stops the app's drain timer; the queue below stays as written
    }
    try {
      // Two queued batches of 3 and 2 events (seqs that are not stored: the count is what is checked).
      await db.query(`INSERT INTO rollup_pending (seqs) VALUES ('{101,102,103}'), ('{104,105}')`);
      const svc = rollupService(db);
      expect(await svc.pending()).toEqual({ batches: 2, events: 5 });
      await svc.drain();
      expect(await svc.pending()).toEqual({ batches: 0, events: 0 });
    } finally {
      await db.close();
    }
  });
});
