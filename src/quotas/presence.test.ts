import { describe, expect, it } from 'vitest';
import { fixedClock } from '../shared/clock.ts';
import type { Logger } from '../shared/log.ts';
import { EntitlementPresence } from './presence.ts';

const logger = { debug() {} } as unknown as Logger;
const tick = () => new Promise((r) => setTimeout(r, 0));

/** A question the test answers by hand (resolve/reject), counting how often it was asked. */
function asked() {
  const q = { n: 0, answers: [] as Array<{ resolve(v: boolean): void; reject(e: Error): void }> };
  const anyEnabled = () => {
    q.n++;
    return new Promise<boolean>((resolve, reject) => void q.answers.push({ resolve, reject }));
  };
  return { q, anyEnabled, last: () => q.answers[q.answers.length - 1]! };
}

/** A presence (ttl 60 s, frozen clock) over a question answered by hand. */
function presence() {
  const clock = fixedClock('2026-01-10T00:00:00Z');
  const { q, anyEnabled, last } = asked();
  return { clock, q, last, p: new EntitlementPresence({ anyEnabled, clock, ttlMs: 60_000, logger }) };
}

describe('EntitlementPresence', () => {
  it('a fresh "none" is trusted; a stale one is not, and is asked again', async () => {
    const { clock, q, last, p } = presence();
    expect(p.none()).toBe(false); // not answered yet: maybe
    expect(q.n).toBe(1); // asked once, at creation; asking again waits for it
    last().resolve(false);
    await tick();
    expect(p.none()).toBe(true);
    expect(q.n).toBe(1);
    clock.advance(60_000);
    expect(p.none()).toBe(false); // as old as the ttl: no longer trusted
    expect(q.n).toBe(2);
    last().resolve(false);
    await tick();
    expect(p.none()).toBe(true);
  });

  it('a "yes" answers maybe and is not asked again until invalidated', async () => {
    const { q, last, p } = presence();
    last().resolve(true);
    await tick();
    for (let i = 0; i < 3; i++) expect(p.none()).toBe(false);
    expect(q.n).toBe(1);
    p.invalidate();
    expect(q.n).toBe(2);
    last().resolve(false);
    await tick();
    expect(p.none()).toBe(true);
  });

  it('an answer to a question asked before invalidate() is dropped (it may predate the change)', async () => {
    const { q, p } = presence();
    p.invalidate(); // an entitlement created while the first question was out
    expect(q.n).toBe(2);
    q.answers[0]!.resolve(false); // the old question: no entitlement (then)
    await tick();
    expect(p.none()).toBe(false);
    q.answers[1]!.resolve(true);
    await tick();
    expect(p.none()).toBe(false);
    expect(q.n).toBe(2);
  });

  it('a failed question leaves it unknown (maybe); the next call asks again', async () => {
    const { q, last, p } = presence();
    last().resolve(false);
    await tick();
    p.invalidate();
    last().reject(new Error('the database is gone'));
    await tick();
    expect(p.none()).toBe(false);
    expect(q.n).toBe(3);
    last().resolve(false);
    await tick();
    expect(p.none()).toBe(true);
  });

  it('while the answer is "none" it is asked again every ttl/2, so an idle spell does not leave it stale; a "yes" stops the asking', async () => {
    let none = 0;
    const p = new EntitlementPresence({ anyEnabled: async () => (none++, false), clock: fixedClock('2026-01-10T00:00:00Z'), ttlMs: 40, logger });
    let some = 0;
    const q = new EntitlementPresence({ anyEnabled: async () => (some++, true), clock: fixedClock('2026-01-10T00:00:00Z'), ttlMs: 40, logger });
    await new Promise((r) => setTimeout(r, 150));
    expect(none).toBeGreaterThanOrEqual(3);
    expect(p.none()).toBe(true);
    expect(some).toBe(1);
    expect(q.none()).toBe(false);
  });

  it('close() stops the asking: no timer, an answer still to come is dropped, every call is "maybe" and asks nothing', async () => {
    let n = 0;
    const p = new EntitlementPresence({ anyEnabled: async () => (n++, false), clock: fixedClock('2026-01-10T00:00:00Z'), ttlMs: 40, logger });
    await tick();
    expect(p.none()).toBe(true);
    p.invalidate(); // a question out when it closes
    p.close();
    await new Promise((r) => setTimeout(r, 100));
    expect(n).toBe(2);
    expect(p.none()).toBe(false);
    p.invalidate();
    await tick();
    expect(n).toBe(2);
  });

  it('ttl 0 (nothing cached): never "none", never asked', async () => {
    let n = 0;
    const p = new EntitlementPresence({ anyEnabled: async () => (n++, false), clock: fixedClock('2026-01-10T00:00:00Z'), ttlMs: 0, logger });
    await tick();
    expect(p.none()).toBe(false);
    p.invalidate();
    await tick();
    expect(n).toBe(0);
  });
});
