import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp, llmEvent, type TestApp } from '../helpers/app.ts';
import { fixedClock } from '../../src/shared/clock.ts';

/**
 * Issue 13 item 8: date edges answered 500 (`date/time field value out of range`, `time zone
 * displacement out of range`). The supported range is 1970-01-01T00:00:00Z .. 9999-01-01T00:00:00Z;
 * outside it a query parameter is a 400 naming it and an event is rejected naming `time`.
 */
for (const zone of ['UTC', 'Pacific/Kiritimati']) {
  describe(`date edges (report zone ${zone})`, () => {
    let app: TestApp;
    beforeAll(async () => {
      app = await testApp({ clock: fixedClock('2026-03-10T12:00:00Z'), config: { tz: zone } });
      const m = await app.request('POST', '/v1/meters', { body: { slug: 'edge_count', event_type: 'llm.usage', aggregation: 'count', group_by: { team: '$.team' } } });
      expect(m.status).toBe(201);
      const r = await app.request('POST', '/v1/events', {
        body: [
          llmEvent('e-1', { time: '1970-01-01T00:00:00Z', data: { team: 'a' } }),
          llmEvent('e-2', { time: '2026-03-09T10:00:00Z', data: { team: 'a' } }),
          llmEvent('e-3', { time: '9999-01-01T00:00:00Z', data: { team: 'a' } }),
        ],
      });
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      expect(r.body.accepted).toBe(3);
    });
    afterAll(() => app.close());

    const bad: Array<[string, string]> = [
      ['/v1/meters/llm_tokens/query?from=0001-01-01T00:00:00Z&to=9999-12-31T00:00:00Z', 'from'],
      ['/v1/meters/edge_count/query?from=0001-01-01T00:00:00Z&to=9999-12-31T00:00:00Z', 'from'],
      ['/v1/meters/llm_tokens/query?from=2026-01-01T00:00:00Z&to=9999-12-31T00:00:00Z&tz=Pacific/Kiritimati', 'to'],
      ['/v1/usage?from=1969-12-31T00:00:00Z&to=2026-01-01T00:00:00Z', 'from'],
      ['/v1/usage?from=2026-01-01T00:00:00Z&to=9999-12-31T00:00:00%2B14:00&tz=Pacific/Kiritimati', 'to'],
      ['/v1/usage/top?from=2026-01-01T00:00:00Z&to=9999-01-01T00:15:00Z', 'to'],
      ['/v1/export?from=0000-01-01T00:00:00Z&to=2026-01-01T00:00:00Z', 'from'],
      ['/v1/events?from=0001-01-01T00:00:00Z', 'from'],
    ];
    for (const [url, param] of bad) {
      it(`date edges: ${url} → 400 naming ${param}`, async () => {
        const r = await app.request('GET', url);
        expect(r.status, JSON.stringify(r.body)).toBe(400);
        expect(r.body.error.param).toBe(param);
        expect(r.body.error.message).toMatch(/supported range 1970-01-01T00:00:00Z \.\. 9999-01-01T00:00:00Z/);
      });
    }

    const good = [
      '/v1/meters/llm_tokens/query?from=1970-01-01T00:00:00Z&to=9999-01-01T00:00:00Z',
      '/v1/meters/llm_requests/query?from=1970-01-01T00:00:00Z&to=9999-01-01T00:00:00Z&tz=Pacific/Kiritimati',
      '/v1/meters/edge_count/query?from=1970-01-01T00:00:00Z&to=9999-01-01T00:00:00Z&tz=Pacific/Kiritimati&group_by=team',
      '/v1/meters/llm_tokens/query?from=9998-12-01T00:00:00Z&to=9999-01-01T00:00:00Z&tz=Pacific/Kiritimati&window=day',
      '/v1/usage?from=1970-01-01T00:00:00Z&to=9999-01-01T00:00:00Z&tz=Pacific/Kiritimati',
      '/v1/usage?from=9998-12-01T00:00:00Z&to=9999-01-01T00:00:00Z&tz=Pacific/Kiritimati&window=day',
      '/v1/usage/top?from=1970-01-01T00:00:00Z&to=9999-01-01T00:00:00Z&tz=Pacific/Kiritimati',
      '/v1/export?from=9998-12-01T00:00:00Z&to=9999-01-01T00:00:00Z&tz=Pacific/Kiritimati&format=csv',
    ];
    for (const url of good) {
      it(`date edges: ${url} → 200`, async () => {
        const r = await app.request('GET', url);
        expect(r.status, JSON.stringify(r.body).slice(0, 400)).toBe(200);
      });
    }

    it('date edges: the whole supported range counts the events at both ends', async () => {
      const r = await app.request('GET', '/v1/meters/llm_requests/query?from=1970-01-01T00:00:00Z&to=9999-01-01T00:00:00Z');
      expect(r.body.rows.map((x: any) => x.value)).toEqual(['2']); // 9999-01-01 itself is the exclusive end
      const c = await app.request('GET', '/v1/meters/edge_count/query?from=1970-01-01T00:00:00Z&to=9999-01-01T00:00:00Z&tz=Pacific/Kiritimati');
      expect(c.body.rows.map((x: any) => x.value)).toEqual(['2']);
    });

    it('date edges: an event outside the supported range is rejected naming time', async () => {
      const r = await app.request('POST', '/v1/events', {
        body: [llmEvent('x-ok'), llmEvent('x-old', { time: '0001-01-01T00:00:00Z' }), llmEvent('x-late', { time: '9999-12-31T23:59:59+14:00' })],
      });
      expect(r.status).toBe(202);
      expect(r.body.rejected.map((x: any) => [x.index, x.error.split(' ')[0]])).toEqual([
        [1, 'time'],
        [2, 'time'],
      ]);
    });
  });
}
