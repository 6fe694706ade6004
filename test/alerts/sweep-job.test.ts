import { afterAll, beforeAll, expect, it } from 'vitest';
import { testApp, type TestApp } from '../helpers/app.ts';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});
afterAll(() => app.close());

it('the hourly alerts.sweep is listed and runs on demand through POST /v1/jobs/alerts.sweep/run', async () => {
  const list = await app.request('GET', '/v1/jobs');
  expect(list.body.data.map((j: { name: string }) => j.name)).toContain('alerts.sweep');
  const run = await app.request('POST', '/v1/jobs/alerts.sweep/run', { body: {} });
  expect(run.status).toBe(200);
  expect(run.body).toMatchObject({ job: 'alerts.sweep', status: 'ok', result: { fired: 0 } });
});
