/* Callbacks given to page.evaluate run in the browser; this file is type-checked without the DOM library. */
import { mkdirSync, existsSync } from 'node:fs';
import { afterAll, beforeAll } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { testApp, type TestApp } from '../helpers/app.ts';
import { TEST_DB } from '../helpers/db.ts';
import { runDemo } from '../../src/cli/demo.ts';
import { WEB_DIST } from '../../src/dashboard/static.ts';

/**
 * What the dashboard's browser tests share: a server started in-process with the demo data, Debian's
 * Chromium (scripts/setup-test-services.sh installs it) driven by playwright-core, sign-in,
 * navigation and screenshots (.test-results/screenshots/). PGlite only: the browser adds nothing
 * storage-specific. Every test file gets its own server and browser (files run in parallel).
 */
export const CHROMIUM = '/usr/bin/chromium';
export const SHOTS = new URL('../../.test-results/screenshots/', import.meta.url).pathname;
export const browserReady = TEST_DB === 'pglite' && existsSync(CHROMIUM) && existsSync(`${WEB_DIST}index.html`);

export const usd2 = (v: string | number) => '$' + Number(v).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** UTC midnights: today − n days (n = 0: today), as the API's from/to. */
export const utcDay = (n: number) => {
  const t = new Date();
  return new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate() + n)).toISOString();
};

export interface Fixture {
  t: TestApp;
  base: string;
  readKey: string;
  /** Figures printed after the file (the issue asks for them to be reported). */
  timings: Record<string, number | string>;
  signIn(key: string, width?: number): Promise<{ page: Page; ms: number; requests: string[] }>;
  /** Signs in on another page (`hash`) and waits for `selector`: no overview to draw first. */
  signInAt(key: string, hash: string, selector: string): Promise<Page>;
  shoot(page: Page, name: string): Promise<void>;
  goto(page: Page, hash: string, selector: string): Promise<void>;
}

/** Registers beforeAll/afterAll for one file: demo data (90 days unless told), a read key, the server, Chromium. */
export function useBrowserFixture(name: string, demo: { days?: number; users?: number } = {}): Fixture {
  let browser: Browser;
  const f = { timings: {} } as Fixture;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    f.t = await testApp();
    const d = await runDemo(f.t.tg, { days: demo.days ?? 90, users: demo.users ?? 14, seed: 7, now: new Date(), media: 'light' });
    // As after `tollgate demo`: what the demo queued is folded before the server is used.
    await f.t.tg.rollups.drain();
    f.timings.demo_events = d.events;
    f.timings.demo_s = +d.seconds.toFixed(1);
    f.readKey = await f.t.key(['read']);
    f.base = await f.t.tg.server.listen({ port: 0, host: '127.0.0.1' });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await f.t?.close();
    console.log(`dashboard ${name}: ${JSON.stringify(f.timings)}`);
  });

  /**
   * Signs in on the 90-day overview and times it in the page's own clock (the test process also
   * runs the server, whose PGlite queries hold its event loop, so times taken here would be late):
   * from the form's submit to both overview charts drawn with data (a chart's data-drawn is set on
   * ECharts' `finished`). `requests` lists each API call's start→end in ms after the submit.
   */
  const open = async (key: string, hash: string, width = 1280) => {
    const ctx = await browser.newContext({ viewport: { width, height: 900 }, acceptDownloads: true });
    const page = await ctx.newPage();
    page.on('pageerror', (e) => console.error('page error:', e.message));
    page.on('console', (m) => m.type() === 'error' && !/status of 40[013]/.test(m.text()) && console.error('console:', m.text()));
    await page.goto(`${f.base}/${hash}`);
    await page.fill('input[name=key]', key);
    return page;
  };

  f.signInAt = async (key, hash, selector) => {
    const page = await open(key, hash);
    await page.click('button[type=submit]');
    await page.waitForSelector(selector, { timeout: 20_000 });
    return page;
  };

  f.signIn = async (key, width = 1280) => {
    const page = await open(key, '#/overview?range=90d', width);
    await page.evaluate(() => {
      const g = globalThis as any;
      const s: { t0?: number; t1?: number } = (g.__signin = {});
      g.document.addEventListener('submit', () => (s.t0 = g.performance.now()), { capture: true, once: true });
      const drawn = () => g.document.querySelectorAll('.overview[data-ready=true] .chart[data-drawn=true]').length === 2;
      new g.MutationObserver((_: unknown, o: any) => drawn() && ((s.t1 = g.performance.now()), o.disconnect())).observe(g.document.body, { subtree: true, childList: true, attributes: true });
    });
    await page.click('button[type=submit]');
    try {
      await page.waitForFunction(() => (globalThis as any).__signin.t1 !== undefined, null, { timeout: 20_000 });
    } catch (e) {
      await page.screenshot({ path: `${SHOTS}signin-failed.png` });
      throw new Error(`${(e as Error).message}\npage text: ${(await page.textContent('body'))?.slice(0, 600)}`);
    }
    const m = await page.evaluate(() => {
      const g = globalThis as any;
      const { t0, t1 } = g.__signin as { t0: number; t1: number };
      const requests = (g.performance.getEntriesByType('resource') as Array<{ name: string; startTime: number; responseEnd: number }>)
        .filter((e) => e.name.includes('/v1/') && e.startTime >= t0 && e.startTime <= t1)
        .map((e) => `${new URL(e.name).pathname} ${Math.round(e.startTime - t0)}→${e.responseEnd ? Math.round(e.responseEnd - t0) : '…'}`);
      return { ms: Math.round(t1 - t0), requests };
    });
    return { page, ...m };
  };

  f.shoot = async (page, shot) => {
    for (const width of [1280, 390]) {
      await page.setViewportSize({ width, height: 900 });
      // Charts follow their box on the next frame (ResizeObserver).
      await page.evaluate(() => new Promise((r) => (globalThis as any).requestAnimationFrame(() => (globalThis as any).requestAnimationFrame(r))));
      await page.screenshot({ path: `${SHOTS}${shot}-${width}.png`, fullPage: true });
    }
    await page.setViewportSize({ width: 1280, height: 900 });
  };

  f.goto = async (page, hash, selector) => {
    await page.evaluate((h) => ((globalThis as any).location.hash = h), hash);
    await page.waitForSelector(selector, { timeout: 15_000 });
  };

  return f;
}
