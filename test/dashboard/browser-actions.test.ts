/* Callbacks given to page.evaluate run in the browser; this file is type-checked without the DOM library. */
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { ADMIN_KEY } from '../helpers/app.ts';
import { browserReady, useBrowserFixture, usd2 } from './browser-fixture.ts';

/**
 * The dashboard's writes in Chromium (35 days of demo data: nothing here needs more): a threshold
 * change moves the level, a grant is added, an alert rule is created and its threshold edited,
 * events are repriced, the overview follows new events live, and a read key sees no write control.
 */
describe.runIf(browserReady)('dashboard actions in a real browser', () => {
  const f = useBrowserFixture('actions', { days: 35 });
  let page: Page;

  it('a threshold change moves the level; a grant is added', async () => {
    // The demo sizes its heaviest user this month to 92 % of a free grant: at warning.
    const id = (await f.t.request('GET', '/v1/entitlements?meter=llm_tokens&limit=1000')).body.data.find((e: { level: string }) => e.level === 'warning').id;
    page = await f.signInAt(ADMIN_KEY, `#/quotas?ent=${id}`, '[data-testid=grants-table]');
    await page.waitForFunction(() => (globalThis as any).document.querySelector('[data-testid=ent-level]')?.textContent === 'warning');
    await page.fill('input[name=threshold-warning]', '0.95');
    await page.fill('input[name=threshold-critical]', '0.97');
    await page.click('text=Save thresholds');
    await page.waitForFunction(() => (globalThis as any).document.querySelector('[data-testid=ent-level]')?.textContent === 'ok', null, { timeout: 10_000 });
    expect((await f.t.request('GET', `/v1/entitlements/${id}/value`)).body.level).toBe('ok');
    const grantsBefore = await page.locator('[data-testid=grants-table] tbody tr').count();
    await page.fill('input[name=grant-amount]', '50000');
    await page.click('button:has-text("Add grant")');
    await page.waitForFunction((n) => (globalThis as any).document.querySelectorAll('[data-testid=grants-table] tbody tr').length === n + 1, grantsBefore, { timeout: 10_000 });
    const grants = (await f.t.request('GET', `/v1/entitlements/${id}/grants`)).body.data;
    expect(grants.some((g: { amount: string; kind: string }) => Number(g.amount) === 50000 && g.kind === 'purchased')).toBe(true);
  });

  it('an alert rule is created, listed, and its threshold edited', async () => {
    await f.goto(page, '#/alerts', '[data-testid=rules-table]');
    const before = await page.locator('[data-testid=rules-table] tbody tr').count();
    await page.click('button:has-text("New rule")');
    await page.fill('input[name=rule-name]', 'Support spend');
    await page.selectOption('select[name=rule-on]', 'budget.amount');
    await page.fill('input[name=rule-amount]', '500');
    await page.fill('input[name=rule-thresholds]', '0.5, 1');
    await page.fill('input[name=rule-team]', 'support');
    await f.shoot(page, 'alerts-new-rule');
    await page.click('button:has-text("Create rule")');
    const row = page.locator('[data-testid=rules-table] tbody tr', { hasText: 'Support spend' });
    await row.waitFor({ timeout: 10_000 });
    expect(await page.locator('[data-testid=rules-table] tbody tr').count()).toBe(before + 1);
    expect(await row.textContent()).toContain('$500.00 a month at 50 %, 100 % (team support)');
    const created = (await f.t.request('GET', '/v1/alerts/rules')).body.data.find((r: { name: string }) => r.name === 'Support spend');
    expect(created).toMatchObject({ on: 'budget.amount', filter: { team: 'support' }, condition: { meter: 'llm_cost', amount: '500', period: 'month', thresholds: [0.5, 1] }, channels: [{ type: 'in_app' }] });

    // Edit: the form opens with the rule's values; the new amount is saved and listed.
    await row.locator('button:has-text("Edit")').click();
    expect(await page.inputValue('input[name=rule-amount]')).toBe('500');
    await page.fill('input[name=rule-amount]', '750');
    await page.click('button:has-text("Save rule")');
    await page.waitForFunction(() => /\$750\.00 a month/.test((globalThis as any).document.querySelector('[data-testid=rules-table]')?.textContent ?? ''), null, { timeout: 10_000 });
    const edited = (await f.t.request('GET', `/v1/alerts/rules/${created.id}`)).body;
    expect(edited.condition).toMatchObject({ amount: '750', thresholds: [0.5, 1] });
    expect(edited.filter).toEqual({ team: 'support' });
    expect(await page.locator('[data-testid=rule-form]').count()).toBe(0);

    // A bad amount: the server's error, naming the field, shows in words.
    await page.click('button:has-text("New rule")');
    await page.fill('input[name=rule-name]', 'Bad');
    await page.fill('input[name=rule-amount]', '-3');
    await page.click('button:has-text("Create rule")');
    expect(await page.locator('[data-testid=rule-form] [role=alert]').textContent()).toMatch(/amount/);
    await page.click('[data-testid=rule-form] button:has-text("Cancel")');
  });

  it('reprices stored events from the prices page', async () => {
    await f.goto(page, '#/prices?range=7d', '[data-testid=catalog-table]');
    await page.click('button:has-text("Reprice")');
    const text = await page.locator('[data-testid=reprice-result]').textContent({ timeout: 15_000 });
    expect(text).toMatch(/^Repriced: [\d,]+ of [\d,]+ events read, [\d,]+ changed, [\d,]+ now priced, [\d,]+ still unpriced\.$/);
  });

  it('the overview updates live after new events', async () => {
    await f.goto(page, '#/overview', '.overview[data-ready=true]');
    await page.waitForSelector('[data-testid=live] .dot.on');
    const before = await page.textContent('[data-testid=card-mtd] .value');
    const start = Date.now();
    const r = await f.t.request('POST', '/v1/events', {
      body: [{ specversion: '1.0', id: `live-${start}`, source: 'browser-test', type: 'llm.usage', time: new Date().toISOString(), subject: 'user-001', data: { provider: 'openai', model: 'gpt-4o', input_tokens: 2_000_000, output_tokens: 500_000 } }],
    });
    expect(r.status).toBe(202);
    await page.waitForFunction((b) => (globalThis as any).document.querySelector('[data-testid=card-mtd] .value')?.textContent !== b, before, { timeout: 5000 });
    f.timings.live_update_ms = Date.now() - start;
    const s = (await f.t.request('GET', '/v1/summary')).body;
    expect(await page.textContent('[data-testid=card-mtd] .value')).toBe(usd2(s.month_to_date.cost));
    expect(await page.textContent('[data-testid=live]')).toMatch(/1 new events/);
    await page.context().close();
  });

  it('a read key gets no write controls', async () => {
    const id = (await f.t.request('GET', '/v1/entitlements?meter=llm_tokens&limit=1')).body.data[0].id;
    const p = await f.signInAt(f.readKey, `#/quotas?ent=${id}`, '[data-testid=grants-table]');
    expect(await p.textContent('[data-testid=who]')).toMatch(/read-only/);
    for (const b of ['Save thresholds', 'Add grant', 'Void']) expect(await p.locator(`button:has-text("${b}")`).count()).toBe(0);
    expect(await p.locator('input[name=threshold-warning]').isDisabled()).toBe(true);
    await f.shoot(p, 'readonly-quotas');
    await f.goto(p, '#/alerts', '[data-testid=rules-table]');
    for (const b of ['New rule', 'Edit', 'Send test']) expect(await p.locator(`button:has-text("${b}")`).count()).toBe(0);
    expect(await p.locator('[data-testid=rules-table] input[type=checkbox]').count()).toBe(0);
    await f.shoot(p, 'readonly-alerts');
    await f.goto(p, '#/collectors', '[data-testid=collectors-table]');
    expect(await p.locator('button:has-text("Run now")').count()).toBe(0);
    await f.goto(p, '#/prices', '[data-testid=catalog-table]');
    for (const b of ['Save override', 'Reprice']) expect(await p.locator(`button:has-text("${b}")`).count()).toBe(0);
    // And the server refuses a cookie write anyway.
    const status = await p.evaluate(async (eid) => (await fetch(`/v1/entitlements/${eid}`, { method: 'PATCH', headers: { 'content-type': 'application/json', 'x-tollgate-csrf': '1' }, body: '{"enabled":false}' })).status, id);
    expect(status).toBe(403);
    await p.context().close();
  });
});
