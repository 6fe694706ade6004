import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { testApp, llmEvent, type TestApp } from '../helpers/app.ts';

let app: TestApp;
beforeAll(async () => {
  app = await testApp({ config: { 'ingest.max_batch': 50, 'ingest.body_limit_bytes': 64 * 1024 } });
});
afterAll(() => app.close());

let n = 0;
const uid = (p = 'e') => `${p}-${++n}-${Math.random().toString(36).slice(2, 8)}`;
const post = (body: unknown, contentType = 'application/json', key?: string | null) =>
  app.request('POST', '/v1/events', { rawBody: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': contentType }, key });
const countStored = async (ids: string[]) =>
  Number((await app.db.query<{ n: string }>('SELECT count(*) AS n FROM events WHERE id = ANY($1::text[])', [ids])).rows[0]!.n);

describe('POST /v1/events content types', () => {
  it.each([
    ['application/cloudevents+json', false],
    ['application/json', false],
    ['application/json; charset=utf-8', false],
  ])('takes one event as %s', async (ct) => {
    const id = uid();
    const r = await post(llmEvent(id), ct);
    expect(r.status).toBe(202);
    expect(r.body).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    expect(await countStored([id])).toBe(1);
  });

  it.each(['application/cloudevents-batch+json', 'application/json'])('takes a batch as %s', async (ct) => {
    const ids = [uid(), uid(), uid()];
    const r = await post(ids.map((id) => llmEvent(id)), ct);
    expect(r.status).toBe(202);
    expect(r.body).toEqual({ accepted: 3, duplicates: 0, rejected: [] });
    expect(await countStored(ids)).toBe(3);
  });

  it('refuses other content types with 415 and stores nothing', async () => {
    const id = uid();
    const r = await post(JSON.stringify(llmEvent(id)), 'text/plain');
    expect(r.status).toBe(415);
    expect(r.body.error).toMatchObject({ type: 'unsupported_media_type', code: 'UNSUPPORTED_CONTENT_TYPE' });
    expect(await countStored([id])).toBe(0);
  });

  it('a batch content type needs an array, a single one an object', async () => {
    const a = await post(llmEvent(uid()), 'application/cloudevents-batch+json');
    expect(a.status).toBe(400);
    expect(a.body.error).toMatchObject({ type: 'invalid_request', code: 'INVALID_BATCH', param: 'body' });
    const b = await post([llmEvent(uid())], 'application/cloudevents+json');
    expect(b.status).toBe(400);
    expect(b.body.error.code).toBe('INVALID_EVENT');
  });

  it('malformed JSON is a 400 naming the body', async () => {
    const r = await post('{"specversion": "1.0", ', 'application/json');
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ type: 'invalid_request', code: 'INVALID_JSON', param: 'body' });
  });

  it('an empty batch is a 400', async () => {
    const r = await post([], 'application/cloudevents-batch+json');
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('EMPTY_BATCH');
  });
});

describe('validation', () => {
  const cases: Array<[string, (id: string) => unknown, string]> = [
    ['missing specversion', (id) => ({ ...llmEvent(id), specversion: undefined }), 'specversion must be "1.0"'],
    ['wrong specversion', (id) => ({ ...llmEvent(id), specversion: '0.3' }), 'specversion must be "1.0"'],
    ['missing id', (id) => ({ ...llmEvent(id), id: undefined }), 'id is required'],
    ['empty source', (id) => ({ ...llmEvent(id), source: '' }), 'source is required'],
    ['numeric type', (id) => ({ ...llmEvent(id), type: 5 }), 'type is required'],
    ['missing time', (id) => ({ ...llmEvent(id), time: undefined }), 'time is required'],
    ['bad time', (id) => llmEvent(id, { time: '2026-13-01T00:00:00Z' }), 'time must be an RFC 3339 timestamp'],
    ['time without zone', (id) => llmEvent(id, { time: '2026-01-01T00:00:00' }), 'time must be an RFC 3339 timestamp'],
    ['Feb 30', (id) => llmEvent(id, { time: '2026-02-30T00:00:00Z' }), 'time must be an RFC 3339 timestamp'],
    ['missing data', (id) => ({ ...llmEvent(id), data: undefined }), 'data is required'],
    ['negative tokens', (id) => llmEvent(id, { data: { input_tokens: -1 } }), 'data.input_tokens must be a non-negative integer'],
    ['fractional tokens', (id) => llmEvent(id, { data: { output_tokens: 1.5 } }), 'data.output_tokens must be a non-negative integer'],
    ['string tokens', (id) => llmEvent(id, { data: { cache_read_tokens: '5' } }), 'data.cache_read_tokens must be a non-negative integer'],
    ['missing model', (id) => llmEvent(id, { data: { model: undefined } }), 'data.model is required'],
    ['missing provider', (id) => llmEvent(id, { data: { provider: undefined } }), 'data.provider is required'],
    ['reasoning above output', (id) => llmEvent(id, { data: { output_tokens: 5, reasoning_tokens: 6 } }), 'data.reasoning_tokens must not exceed output_tokens'],
    ['bad cost', (id) => llmEvent(id, { data: { cost: 'cheap' } }), 'data.cost must be a non-negative decimal'],
    ['negative cost', (id) => llmEvent(id, { data: { cost: '-1' } }), 'data.cost must be a non-negative decimal'],
    ['bad media kind', (id) => ({ specversion: '1.0', id, source: 'lk', type: 'media.track.started', time: '2026-01-01T00:00:00Z', data: { room: 'r', participant: 'p', track: 't', kind: 'hologram' } }), 'data.kind must be one of'],
    ['snapshot without host', (id) => ({ specversion: '1.0', id, source: 'h', type: 'resource.snapshot', time: '2026-01-01T00:00:00Z', data: { cpu_percent: 3 } }), 'data.host is required'],
    ['llm data not an object', (id) => ({ ...llmEvent(id), data: 'x' }), 'data must be an object'],
    ['not an object (in a batch)', () => [42], 'event must be a JSON object'],
  ];

  it.each(cases)('%s: rejected with a reason naming the field, nothing stored', async (_name, make, reason) => {
    const id = uid('bad');
    const r = await post(make(id));
    expect(r.status).toBe(400);
    expect(r.body.error.type).toBe('invalid_request');
    expect(r.body.error.code).toBe('ALL_REJECTED');
    expect(r.body.error.rejected).toHaveLength(1);
    expect(r.body.error.rejected[0].error).toContain(reason);
    expect(await countStored([id])).toBe(0);
  });

  it('a mixed batch stores the good events and reports each bad one by index and id', async () => {
    const good = [uid(), uid()];
    const bad = uid('bad');
    const r = await post([llmEvent(good[0]!), llmEvent(bad, { data: { input_tokens: -5 } }), llmEvent(good[1]!)]);
    expect(r.status).toBe(202);
    expect(r.body).toEqual({ accepted: 2, duplicates: 0, rejected: [{ index: 1, id: bad, error: 'data.input_tokens must be a non-negative integer' }] });
    expect(await countStored([...good, bad])).toBe(2);
  });

  it('other event types are stored with any data', async () => {
    const id = uid();
    const r = await post({ specversion: '1.0', id, source: 'app', type: 'feature.used', time: '2026-01-09T00:00:00.123456+05:45', data: [1, 'two'] });
    expect(r.status).toBe(202);
    const row = (await app.db.query<any>('SELECT time, data FROM events WHERE id = $1', [id])).rows[0];
    expect(new Date(row.time).toISOString()).toBe('2026-01-08T18:15:00.123Z');
    expect(row.data).toEqual([1, 'two']);
  });

  it('keeps rejected events for inspection, newest first, with the reason', async () => {
    const id = uid('inspect');
    await post(llmEvent(id, { time: 'yesterday' }));
    const r = await app.request('GET', '/v1/events/rejected?limit=5');
    expect(r.status).toBe(200);
    expect(r.body.data[0]).toMatchObject({ id, index: 0, source: 'test' });
    expect(r.body.data[0].error).toContain('time must be an RFC 3339');
    expect(r.body.data[0].event.id).toBe(id);
  });
});

describe('limits', () => {
  it('too many events is a 413 and stores nothing', async () => {
    const ids = Array.from({ length: 51 }, () => uid('many'));
    const r = await post(ids.map((id) => llmEvent(id)));
    expect(r.status).toBe(413);
    expect(r.body.error).toMatchObject({ type: 'payload_too_large', code: 'BATCH_TOO_LARGE' });
    expect(r.body.error.message).toContain('at most 50');
    expect(await countStored(ids)).toBe(0);
  });

  it('an oversize body is a 413 with a clear message', async () => {
    const id = uid('big');
    const r = await post(llmEvent(id, { data: { note: 'x'.repeat(70 * 1024) } }));
    expect(r.status).toBe(413);
    expect(r.body.error).toMatchObject({ type: 'payload_too_large', code: 'BODY_TOO_LARGE' });
    expect(r.body.error.message).toContain('65536 bytes');
    expect(await countStored([id])).toBe(0);
  });
});

describe('dedup by (source, id), forever', () => {
  it('counts duplicates inside one batch and across batches; a retry is a 202', async () => {
    const id = uid('dup');
    const first = await post([llmEvent(id), llmEvent(id, { data: { input_tokens: 999 } })]);
    expect(first.body).toEqual({ accepted: 1, duplicates: 1, rejected: [] });
    const retry = await post([llmEvent(id)]);
    expect(retry.status).toBe(202);
    expect(retry.body).toEqual({ accepted: 0, duplicates: 1, rejected: [] });
    const row = (await app.db.query<any>('SELECT input_tokens FROM events WHERE id = $1', [id])).rows[0];
    expect(Number(row.input_tokens)).toBe(100); // the first one wins
  });

  it('the same id from another source is another event', async () => {
    const id = uid('src');
    const r = await post([llmEvent(id, { source: 'a' }), llmEvent(id, { source: 'b' })]);
    expect(r.body).toEqual({ accepted: 2, duplicates: 0, rejected: [] });
  });

  it('a key deleted by retention (tombstoned) is still a duplicate', async () => {
    const id = uid('tomb');
    await app.db.query('INSERT INTO event_tombstones (source, id) VALUES ($1, $2)', ['test', id]);
    const r = await post(llmEvent(id));
    expect(r.body).toEqual({ accepted: 0, duplicates: 1, rejected: [] });
  });

  it('property: over random batches with repeats, accepted + duplicates = valid events and stored = distinct keys', async () => {
    const prefix = uid('prop');
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.tuple(fc.integer({ min: 0, max: 30 }), fc.constantFrom('s1', 's2'), fc.boolean()), { minLength: 1, maxLength: 20 }), { minLength: 1, maxLength: 5 }),
        async (batches) => {
          const run = uid(prefix);
          const seen = new Set<string>();
          let expectedAccepted = 0;
          let totalAccepted = 0;
          for (const batch of batches) {
            const events = batch.map(([k, source, bad]) => llmEvent(`${run}-${k}`, { source, data: bad ? { input_tokens: -1 } : {} }));
            let accepted = 0;
            let dups = 0;
            let rejected = 0;
            for (const [k, source, bad] of batch) {
              if (bad) {
                rejected++;
                continue;
              }
              const key = `${source}/${k}`;
              if (seen.has(key)) dups++;
              else {
                seen.add(key);
                accepted++;
              }
            }
            const r = await post(events);
            if (accepted + dups === 0) {
              expect(r.status).toBe(400);
              continue;
            }
            expect(r.status).toBe(202);
            expect(r.body.accepted).toBe(accepted);
            expect(r.body.duplicates).toBe(dups);
            expect(r.body.rejected).toHaveLength(rejected);
            expectedAccepted += accepted;
            totalAccepted += r.body.accepted;
          }
          const stored = Number(
            (await app.db.query<{ n: string }>(`SELECT count(*) AS n FROM events WHERE id LIKE $1`, [`${run}-%`])).rows[0]!.n,
          );
          expect(stored).toBe(seen.size);
          expect(totalAccepted).toBe(expectedAccepted);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('concurrent identical batches store each event once', async () => {
    const ids = Array.from({ length: 20 }, () => uid('conc'));
    const results = await Promise.all(Array.from({ length: 4 }, () => post(ids.map((id) => llmEvent(id)))));
    const accepted = results.reduce((s, r) => s + r.body.accepted, 0);
    const dups = results.reduce((s, r) => s + r.body.duplicates, 0);
    expect(accepted).toBe(20);
    expect(dups).toBe(60);
    expect(await countStored(ids)).toBe(20);
  });
});

describe('llm.usage columns', () => {
  it('lifts the fields and sums split cache writes', async () => {
    const id = uid();
    await post(
      llmEvent(id, {
        subject: 'alice',
        data: { region: 'us-east-1', team: 'ml', project: 'p1', feature: 'chat', cache_read_tokens: 7, cache_write_5m_tokens: 3, cache_write_1h_tokens: 4, output_tokens: 50, reasoning_tokens: 20 },
      }),
    );
    const row = (await app.db.query<any>('SELECT * FROM events WHERE id = $1', [id])).rows[0];
    expect(row).toMatchObject({ subject: 'alice', provider: 'openai', model: 'gpt-4o', region: 'us-east-1', team: 'ml', project: 'p1', feature: 'chat' });
    expect([row.input_tokens, row.output_tokens, row.cache_read_tokens, row.cache_write_tokens, row.reasoning_tokens].map(Number)).toEqual([100, 50, 7, 7, 20]);
  });

  it('a provider-reported cost is kept exactly as a decimal', async () => {
    const id = uid();
    await post(llmEvent(id, { data: { cost: '0.000000123456789012345678' } }));
    const row = (await app.db.query<any>('SELECT cost, cost_source FROM events WHERE id = $1', [id])).rows[0];
    expect(String(row.cost)).toBe('0.000000123456789012345678');
    expect(row.cost_source).toBe('provider');
  });
});
