import { afterEach, describe, expect, it, vi } from 'vitest';
import { testApp, type TestApp } from '../helpers/app.ts';

/**
 * What the gate relies on from the service: `anyEnabledEntitlement()` (the presence question) and
 * `onEntitlementsChanged` (told after an entitlement change is committed, before it returns), and
 * the gate closing with the app (no presence question after it).
 */
let app: TestApp | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

const thresholds = { warning: '0.9', critical: '0.95', block: '1.05' };
const create = (a: TestApp, subject: string, enabled = true) =>
  a.tg.quotas.service.createEntitlement({ subject, meter: 'llm_tokens', period: 'month', tz: 'UTC', thresholds, enabled });

describe('entitlement changes and presence (service)', () => {
  it('anyEnabledEntitlement: only an enabled, not deleted entitlement counts', async () => {
    app = await testApp();
    const q = app.tg.quotas.service;
    expect(await q.anyEnabledEntitlement()).toBe(false);
    await create(app, 'off', false);
    expect(await q.anyEnabledEntitlement()).toBe(false);
    const on = await create(app, 'on');
    expect(await q.anyEnabledEntitlement()).toBe(true);
    await q.updateEntitlement(on.id, { enabled: false });
    expect(await q.anyEnabledEntitlement()).toBe(false);
    await q.updateEntitlement(on.id, { enabled: true });
    expect(await q.anyEnabledEntitlement()).toBe(true);
    await q.deleteEntitlement(on.id);
    expect(await q.anyEnabledEntitlement()).toBe(false);
  });

  it('listeners hear each create, update and delete after it is committed; a throwing one fails nothing; unsubscribed, no more', async () => {
    app = await testApp();
    const q = app.tg.quotas.service;
    const seen: Array<Promise<boolean>> = [];
    // What a listener reads when told already includes the change.
    const off = q.onEntitlementsChanged(() => void seen.push(q.anyEnabledEntitlement()));
    const offBad = q.onEntitlementsChanged(() => {
      throw new Error('a broken listener');
    });
    const e = await create(app, 'user-1');
    expect(seen.length).toBe(1);
    expect(await seen[0]).toBe(true);
    await q.updateEntitlement(e.id, { enabled: false });
    expect(seen.length).toBe(2);
    expect(await seen[1]).toBe(false);
    await q.deleteEntitlement(e.id);
    expect(seen.length).toBe(3);
    // Grants do not change which entitlements exist or are enabled.
    const e2 = await create(app, 'user-2');
    await q.createGrant(e2.id, { amount: '10', kind: 'free', priority: 1 });
    expect(seen.length).toBe(4);
    off();
    offBad();
    await q.updateEntitlement(e2.id, { enabled: false });
    expect(seen.length).toBe(4);
  });
});

describe('the gate closes with the app', () => {
  it('asks whether any entitlement is enabled every ttl/2 while none is, and never after the app closed', async () => {
    app = await testApp({ config: { 'quotas.snapshot_ttl_ms': 40 } });
    const ask = vi.spyOn(app.tg.quotas.service, 'anyEnabledEntitlement');
    await new Promise((r) => setTimeout(r, 100));
    expect(ask.mock.calls.length).toBeGreaterThanOrEqual(2);
    await app.close();
    app = undefined;
    const n = ask.mock.calls.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(ask.mock.calls.length).toBe(n);
  });

  it('a closed gate no longer follows entitlement changes', async () => {
    // A long ttl: no "none" is asked again by the timer during the test.
    app = await testApp({ config: { 'quotas.snapshot_ttl_ms': 60_000 } });
    const ask = vi.spyOn(app.tg.quotas.service, 'anyEnabledEntitlement');
    await create(app, 'user-1');
    expect(ask).toHaveBeenCalledTimes(1); // the change: asked again at once
    app.tg.quotas.gate.close();
    await create(app, 'user-2');
    expect(ask).toHaveBeenCalledTimes(1);
  });
});
