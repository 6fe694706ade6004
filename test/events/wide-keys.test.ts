import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp, llmEvent, type TestApp } from '../helpers/app.ts';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});
afterAll(() => app.close());

// 512 Hangul syllables: 512 characters (within the character limit) but 1,536 bytes in UTF-8.
const wide = (seed: number) => Array.from({ length: 512 }, (_, i) => String.fromCharCode(0xac00 + ((i * 7919 + seed * 104729) % 11000))).join('');

describe('defect: one event with wide dimension values broke every report', () => {
  it('rejects that event naming the field; the batch and every report keep working', async () => {
    const r = await app.request('POST', '/v1/events', {
      body: [llmEvent('wide-ok'), llmEvent('wide-1', { subject: 'u', data: { team: wide(1), project: wide(2), api_key: wide(3), region: wide(4), feature: wide(5) } })],
    });
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ accepted: 1, rejected: [{ index: 1, id: 'wide-1' }] });
    expect(r.body.rejected[0].error).toContain('data.region must be at most 256 bytes in UTF-8');
    const subject = await app.request('POST', '/v1/events', { body: llmEvent('wide-2', { subject: wide(6) }) });
    expect(subject.status).toBe(400);
    expect(subject.body.error.rejected[0].error).toContain('subject must be at most 256 bytes');
    // 85 Hangul syllables (255 bytes) per dimension is fine, and reports answer.
    const fits = (n: number) => wide(n).slice(0, 85);
    const ok = await app.request('POST', '/v1/events', {
      body: llmEvent('wide-3', { subject: fits(7), data: { team: fits(1), project: fits(2), api_key: fits(3), region: fits(4), feature: fits(5), model: 'gpt-4o' } }),
    });
    expect(ok.body.accepted).toBe(1);
    for (const url of ['/v1/usage?from=2026-01-09T00:00:00Z&to=2026-01-10T00:00:00Z&group_by=team,subject,feature', '/v1/usage?from=2026-01-09T00:00:00Z&to=2026-01-10T00:00:00Z&window=hour']) {
      const u = await app.request('GET', url);
      expect(u.status).toBe(200);
      expect(u.body.totals.requests).toBe(2);
    }
  });
});
