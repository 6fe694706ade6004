import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testApp, llmEvent, type TestApp } from '../helpers/app.ts';
import { fixedClock } from '../../src/shared/clock.ts';
import { countLines, listArchiveFiles, readArchive } from '../../src/jobs/archive.ts';

async function send(app: TestApp, events: unknown[]) {
  const r = await app.request('POST', '/v1/events', { body: events });
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  return r.body;
}
const count = async (app: TestApp, type: string) =>
  Number((await app.db.query<{ n: string }>('SELECT count(*)::text AS n FROM events WHERE type = $1', [type])).rows[0]!.n);

describe('retention and archives', () => {
  let app: TestApp;
  let dir: string;
  const clock = fixedClock('2026-01-01T00:00:00Z');
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tg-ret-'));
    app = await testApp({ clock, config: { data_dir: dir, retention: { types: { 'llm.usage': 90, 'resource.snapshot': 7 }, default_days: 30 } } });
    const events: unknown[] = [];
    // llm.usage on 2025-10-01 … 2025-10-05 (3 a day), one custom event per day 2025-12-01 … 12-05.
    for (let d = 1; d <= 5; d++) {
      for (let i = 0; i < 3; i++) {
        events.push(llmEvent(`llm-${d}-${i}`, { time: `2025-10-0${d}T0${i}:30:00Z`, data: { cost: '0.001', input_tokens: 10 * d, output_tokens: i } }));
      }
      events.push({ specversion: '1.0', id: `c-${d}`, source: 'app', type: 'app.click', time: `2025-12-0${d}T12:00:00Z`, data: { n: d } });
    }
    await send(app, events);
  });
  afterAll(async () => {
    await app.close();
    await rm(dir, { recursive: true, force: true });
  });

  const month = 'from=2025-10-01T00:00:00Z&to=2025-11-01T00:00:00Z';

  it('archives first: when the archive cannot be written nothing is deleted', async () => {
    const blocker = path.join(dir, 'not-a-dir');
    await writeFile(blocker, 'x');
    const broken = await testApp({ db: app.db, clock, config: { data_dir: dir, retention: { archive_dir: path.join(blocker, 'archive') } } });
    try {
      clock.set('2026-01-02T03:30:00Z');
      await expect(broken.tg.jobs.retention.run(clock.now())).rejects.toThrow();
      expect(await count(app, 'llm.usage')).toBe(15);
    } finally {
      await broken.tg.close();
    }
  });

  it('deletes only what is due, after writing one gzip NDJSON file per day and type', async () => {
    const before = (await app.request('GET', `/v1/meters/llm_tokens/query?${month}&window=day`)).body.rows;
    // 2026-01-02: 90 days back is 2025-10-04T00:00Z → Oct 1–3 go, Oct 4–5 stay; clicks (30 d) before 2025-12-03.
    clock.set('2026-01-02T03:30:00Z');
    const r = await app.tg.jobs.scheduler.runDue(clock.now());
    // Other jobs (alerts.sweep, host.metrics, …) may be due too; this test is about retention.
    expect(r.filter((x) => x.job === 'retention').map((x) => x.status)).toEqual(['ok']);
    expect(await count(app, 'llm.usage')).toBe(6);
    expect(await count(app, 'app.click')).toBe(3);
    const files = await listArchiveFiles(path.join(dir, 'archive'));
    expect(files.map((f) => [f.type, f.day])).toEqual([
      ['app.click', '2025-12-01'],
      ['app.click', '2025-12-02'],
      ['llm.usage', '2025-10-01'],
      ['llm.usage', '2025-10-02'],
      ['llm.usage', '2025-10-03'],
    ]);
    for (const f of files) expect(await countLines(f.path)).toBe(f.type === 'llm.usage' ? 3 : 1);
    const [first] = await readArchive(files[2]!.path).next().then((x) => x.value!);
    expect(first).toMatchObject({ type: 'llm.usage', cost: '0.001', cost_source: 'provider', input_tokens: '10' });

    // Meters are durable aggregates: the answer does not change when raw rows go.
    expect((await app.request('GET', `/v1/meters/llm_tokens/query?${month}&window=day`)).body.rows).toEqual(before);
    // Dedup is forever: a deleted event sent again is a duplicate, not a new event.
    const again = await send(app, [llmEvent('llm-1-0', { time: '2025-10-01T00:30:00Z', data: { cost: '0.001', input_tokens: 10, output_tokens: 0 } })]);
    expect(again).toMatchObject({ accepted: 0, duplicates: 1 });
    // The same window does not run twice.
    expect(await app.tg.jobs.scheduler.runDue(clock.now())).toEqual([]);
  });

  it('restore brings the rows back into the same query results, without counting them twice', async () => {
    const files = await listArchiveFiles(path.join(dir, 'archive'));
    const listBefore = (await app.request('GET', '/v1/events?type=llm.usage&limit=100')).body.data.length;
    expect(listBefore).toBe(6);
    const meterBefore = (await app.request('GET', `/v1/meters/llm_tokens/query?${month}&window=day`)).body.rows;
    for (const f of files) await app.tg.jobs.retention.restore(f.path, clock.now());
    expect(await count(app, 'llm.usage')).toBe(15);
    expect(await count(app, 'app.click')).toBe(5);
    const listed = (await app.request('GET', '/v1/events?type=llm.usage&limit=100')).body.data;
    expect(listed).toHaveLength(15);
    expect(listed.find((e: any) => e.id === 'llm-1-0')).toMatchObject({ cost: '0.001', cost_source: 'provider', time: '2025-10-01T00:30:00.000Z' });
    expect((await app.request('GET', `/v1/meters/llm_tokens/query?${month}&window=day`)).body.rows).toEqual(meterBefore);
    // Restoring twice inserts nothing new.
    expect(await app.tg.jobs.retention.restore(files[0]!.path, clock.now())).toMatchObject({ restored: 0 });
    // The next retention run archives them again (to a new file) rather than overwriting.
    clock.set('2026-01-03T03:30:00Z');
    await app.tg.jobs.scheduler.runDue(clock.now());
    expect(await count(app, 'llm.usage')).toBe(3);
    expect(existsSync(path.join(dir, 'archive', 'llm.usage', '2025-10-01.2.ndjson.gz'))).toBe(true);
  });
});
