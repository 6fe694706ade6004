import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp, llmEvent, type TestApp } from '../helpers/app.ts';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});
afterAll(() => app.close());

describe('POST /v1/events smoke', () => {
  it('accepts a single event', async () => {
    const r = await app.request('POST', '/v1/events', { body: llmEvent('smoke-1') });
    expect(r.status).toBe(202);
    expect(r.body).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
  });
});
