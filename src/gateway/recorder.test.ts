import { describe, expect, it } from 'vitest';
import { createRecorder } from './recorder.ts';

const ev = (i: number) => ({ id: `e${i}` });
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('gateway recorder', () => {
  it('writes one batch per interval while a slow write is in flight, not one per round trip', async () => {
    const batches: number[] = [];
    const rec = createRecorder({
      ingest: async (b) => {
        batches.push(b.length);
        await tick(5);
      },
      intervalMs: 40,
      maxEvents: 500,
    });
    const t0 = Date.now();
    for (let i = 0; i < 60; i++) {
      rec.add(ev(i));
      await tick(2);
    }
    const elapsed = Date.now() - t0;
    await rec.close();
    expect(batches.reduce((a, b) => a + b, 0)).toBe(60);
    // ≥120 ms of arrivals, a 40 ms interval and 5 ms writes: about one batch per interval (draining
    // until empty wrote a batch every ~5 ms).
    expect(batches.length).toBeLessThanOrEqual(Math.ceil(elapsed / 40) + 2);
  });

  it('flush() writes everything buffered before it resolves, in order', async () => {
    const seen: unknown[] = [];
    const rec = createRecorder({ ingest: async (b) => void seen.push(...b.map((e) => e.id)), intervalMs: 60_000, maxEvents: 3 });
    for (let i = 0; i < 7; i++) rec.add(ev(i));
    await rec.flush();
    expect(seen).toEqual(['e0', 'e1', 'e2', 'e3', 'e4', 'e5', 'e6']);
    expect(rec.pending).toBe(0);
  });

  it('keeps a failed batch and writes it on the next try', async () => {
    let fail = true;
    const seen: unknown[] = [];
    const rec = createRecorder({
      ingest: async (b) => {
        if (fail) throw new Error('store down');
        seen.push(...b.map((e) => e.id));
      },
      intervalMs: 10,
      maxEvents: 500,
    });
    rec.add(ev(1));
    await rec.flush();
    expect(rec.pending).toBe(1);
    rec.add(ev(2));
    fail = false;
    await tick(30);
    await rec.flush();
    expect(seen).toEqual(['e1', 'e2']);
  });
});
