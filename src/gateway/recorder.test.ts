import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { classifyStoreError, createRecorder } from './recorder.ts';

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

  it('splits a batch the store refuses so one poison event never blocks the others; the poison is dropped and counted', async () => {
    const seen: unknown[] = [];
    const dropped: number[] = [];
    const poison = (b: Record<string, unknown>[]) => b.some((e) => e.id === 'e5');
    const rec = createRecorder({
      ingest: async (b) => {
        // what PostgreSQL answers for a NUL in jsonb
        if (poison(b)) throw Object.assign(new Error('unsupported Unicode escape sequence'), { code: '22P05' });
        seen.push(...b.map((e) => e.id));
      },
      intervalMs: 60_000,
      maxEvents: 500,
      onDrop: (n) => dropped.push(n),
    });
    for (let i = 0; i < 9; i++) rec.add(ev(i));
    await rec.flush();
    expect(seen).toEqual(['e0', 'e1', 'e2', 'e3', 'e4', 'e6', 'e7', 'e8']);
    expect(dropped).toEqual([1]);
    expect(rec.pending).toBe(0);
    rec.add(ev(9));
    await rec.flush();
    expect(seen.at(-1)).toBe('e9');
  });

  it('keeps and retries every event while the store is unreachable (a real ECONNREFUSED), dropping none', async () => {
    const refused = await new pg.Client({ host: '127.0.0.1', port: 1, connectionTimeoutMillis: 2000 }).connect().then(() => undefined, (e: unknown) => e);
    expect(classifyStoreError(refused)).toBe('unreachable');
    let down = true;
    const seen: unknown[] = [];
    const dropped: number[] = [];
    const rec = createRecorder({
      ingest: async (b) => {
        if (down) throw refused;
        seen.push(...b.map((e) => e.id));
      },
      intervalMs: 5,
      maxEvents: 2,
      onDrop: (n) => dropped.push(n),
    });
    for (let i = 0; i < 5; i++) rec.add(ev(i));
    await rec.flush();
    await tick(30);
    expect(rec.pending).toBe(5);
    down = false;
    await tick(200);
    await rec.flush();
    expect(seen).toEqual(['e0', 'e1', 'e2', 'e3', 'e4']);
    expect(dropped).toEqual([]);
  });

  it('counts events ingest rejects (one of a batch, or all of it) as dropped', async () => {
    const dropped: number[] = [];
    const rec = createRecorder({
      ingest: async (b) => {
        if (b.length === 1) throw Object.assign(new Error('the event was rejected'), { status: 400, code: 'ALL_REJECTED' });
        return { accepted: b.length - 1, duplicates: 0, rejected: [{ index: 1, id: 'e1', error: 'data.model must not hold NUL' }] };
      },
      intervalMs: 60_000,
      maxEvents: 500,
      onDrop: (n) => dropped.push(n),
    });
    rec.add(ev(0));
    rec.add(ev(1));
    await rec.flush();
    rec.add(ev(2));
    await rec.flush();
    expect(dropped).toEqual([1, 1]);
  });

  it('close() flushes; what the store cannot take by then is logged and counted, not lost silently', async () => {
    const dropped: number[] = [];
    const errors: string[] = [];
    const logger = { error: (_o: unknown, msg: string) => errors.push(msg), warn: () => {}, info: () => {} } as any;
    const rec = createRecorder({
      ingest: async () => {
        throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED', syscall: 'connect' });
      },
      intervalMs: 1,
      maxEvents: 500,
      closeAttempts: 2,
      logger,
      onDrop: (n) => dropped.push(n),
    });
    for (let i = 0; i < 3; i++) rec.add(ev(i));
    await rec.close();
    expect(dropped).toEqual([3]);
    expect(errors[0]).toMatch(/dropped/);
    const seen: unknown[] = [];
    const ok = createRecorder({ ingest: async (b) => void seen.push(...b), intervalMs: 60_000, maxEvents: 500 });
    ok.add(ev(1));
    await ok.close();
    expect(seen).toHaveLength(1);
  });

  it('classifies store failures: data refused, store unreachable, or unknown', () => {
    expect(classifyStoreError(Object.assign(new Error('x'), { code: '22P05' }))).toBe('refused');
    expect(classifyStoreError(Object.assign(new Error('x'), { code: '57P01' }))).toBe('unreachable');
    expect(classifyStoreError(Object.assign(new Error('x'), { code: '08006' }))).toBe('unreachable');
    expect(classifyStoreError(new Error('Connection terminated unexpectedly'))).toBe('unreachable');
    expect(classifyStoreError(new RangeError('Maximum call stack size exceeded'))).toBe('refused');
    expect(classifyStoreError(new Error('store down'))).toBe('unknown');
  });
});
