import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp, type TestApp } from '../helpers/app.ts';
import { fixedClock } from '../../src/shared/clock.ts';

let seq = 0;
const track = (type: 'started' | 'ended', time: string, room: string, participant: string, trk: string, kind = 'video', extra: Record<string, unknown> = {}) => ({
  specversion: '1.0',
  id: `m-${++seq}`,
  source: 'livekit',
  type: `media.track.${type}`,
  time,
  data: { room, participant, track: trk, kind, ...extra },
});
const finished = (time: string, room: string) => ({ specversion: '1.0', id: `f-${++seq}`, source: 'livekit', type: 'media.room.finished', time, data: { room } });

async function send(app: TestApp, events: unknown[]) {
  for (let i = 0; i < events.length; i += 5000) {
    const r = await app.request('POST', '/v1/events', { body: events.slice(i, i + 5000) });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(r.body.rejected).toEqual([]);
  }
}
async function q(app: TestApp, meter: string, qs: string) {
  const r = await app.request('GET', `/v1/meters/${meter}/query?${qs}`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.rows as Array<Record<string, any>>;
}

describe('media sessions', () => {
  let app: TestApp;
  const clock = fixedClock('2026-02-01T00:00:00Z');
  beforeAll(async () => {
    app = await testApp({ clock });
  });
  afterAll(() => app.close());

  it('pairs an end that arrives before its start, and ignores a duplicate start', async () => {
    await send(app, [track('ended', '2026-01-05T10:30:00Z', 'r1', 'alice', 't1')]);
    expect(await q(app, 'video_minutes', 'from=2026-01-05T00:00:00Z&to=2026-01-06T00:00:00Z')).toEqual([]);
    await send(app, [track('started', '2026-01-05T10:00:00Z', 'r1', 'alice', 't1'), track('started', '2026-01-05T10:10:00Z', 'r1', 'alice', 't1')]);
    const rows = await q(app, 'video_minutes', 'from=2026-01-05T00:00:00Z&to=2026-01-06T00:00:00Z');
    expect(rows).toEqual([{ window_start: '2026-01-05T00:00:00Z', window_end: '2026-01-06T00:00:00Z', value: '30' }]);
    // Resending the same events (retries) changes nothing.
    const again = await app.request('POST', '/v1/events', { body: [track('started', '2026-01-05T10:00:00Z', 'r1', 'alice', 't1')] });
    expect(again.status).toBe(202);
    expect((await q(app, 'video_minutes', 'from=2026-01-05T00:00:00Z&to=2026-01-06T00:00:00Z'))[0]!.value).toBe('30');
  });

  it('splits a session across windows, in the report zone', async () => {
    // 23:30–01:15 Seoul time on 2026-01-06/07 = 14:30–16:15 UTC.
    await send(app, [track('started', '2026-01-06T14:30:00Z', 'r2', 'bob', 'cam', 'video'), track('ended', '2026-01-06T16:15:00Z', 'r2', 'bob', 'cam')]);
    const rows = await q(app, 'video_minutes', 'from=2026-01-06T00:00:00%2B09:00&to=2026-01-08T00:00:00%2B09:00&window=day&tz=Asia/Seoul');
    expect(rows).toEqual([
      { window_start: '2026-01-06T00:00:00+09:00', window_end: '2026-01-07T00:00:00+09:00', value: '30' },
      { window_start: '2026-01-07T00:00:00+09:00', window_end: '2026-01-08T00:00:00+09:00', value: '75' },
    ]);
    const hours = await q(app, 'video_minutes', 'from=2026-01-06T14:00:00Z&to=2026-01-06T17:00:00Z&window=hour&tz=Asia/Kathmandu');
    // Kathmandu is +05:45: the session is 20:15–22:00 local; hour windows start at :15 UTC.
    expect(hours.map((r) => [r.window_start, r.value])).toEqual([
      ['2026-01-06T20:00:00+05:45', '45'],
      ['2026-01-06T21:00:00+05:45', '60'],
    ]);
  });

  it('closes open sessions at room_finished, in whatever order it arrives', async () => {
    await send(app, [finished('2026-01-08T11:00:00Z', 'r3')]);
    await send(app, [
      track('started', '2026-01-08T10:00:00Z', 'r3', 'carol', 'v'),
      track('started', '2026-01-08T10:30:00Z', 'r3', 'dave', 's', 'screen_share'),
      track('started', '2026-01-08T10:15:00Z', 'r3', 'dave', 'mic', 'audio'),
    ]);
    const day = 'from=2026-01-08T00:00:00Z&to=2026-01-09T00:00:00Z';
    expect((await q(app, 'video_minutes', day))[0]!.value).toBe('60');
    expect((await q(app, 'screen_share_minutes', day))[0]!.value).toBe('30');
    // participant minutes: carol 60 + dave's union of audio 10:15–11:00 and screen 10:30–11:00 = 45.
    expect(await q(app, 'participant_minutes', day + '&group_by=participant')).toEqual([
      { window_start: '2026-01-08T00:00:00Z', window_end: '2026-01-09T00:00:00Z', participant: 'carol', value: '60' },
      { window_start: '2026-01-08T00:00:00Z', window_end: '2026-01-09T00:00:00Z', participant: 'dave', value: '45' },
    ]);
    expect(await q(app, 'concurrent_participants', day + '&filter[room]=r3')).toEqual([{ window_start: '2026-01-08T00:00:00Z', window_end: '2026-01-09T00:00:00Z', value: '2' }]);
  });

  it('caps a session with no end at the maximum duration (12 h by default)', async () => {
    await send(app, [track('started', '2026-01-10T00:00:00Z', 'r4', 'erin', 'v')]);
    const rows = await q(app, 'video_minutes', 'from=2026-01-10T00:00:00Z&to=2026-01-12T00:00:00Z&filter[room]=r4');
    expect(rows[0]!.value).toBe('720');
  });

  it('counts an open session only up to now', async () => {
    clock.set('2026-01-20T00:30:00Z');
    await send(app, [track('started', '2026-01-20T00:00:00Z', 'r5', 'finn', 'v')]);
    expect((await q(app, 'video_minutes', 'from=2026-01-20T00:00:00Z&to=2026-01-21T00:00:00Z&filter[room]=r5'))[0]!.value).toBe('30');
    clock.set('2026-02-01T00:00:00Z');
  });
});

describe('seed 000: 50 video users × 5 h a day × 22 days', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await testApp({ clock: fixedClock('2026-03-01T00:00:00Z') });
    const events: unknown[] = [];
    // 22 weekdays of February 2026 (Mon 2nd … Fri 27th), 10:00–15:00 Seoul time; ends sent first.
    const days: string[] = [];
    for (let d = 1; d <= 28; d++) {
      const date = new Date(Date.UTC(2026, 1, d));
      if (date.getUTCDay() !== 0 && date.getUTCDay() !== 6) days.push(date.toISOString().slice(0, 10));
    }
    expect(days).toHaveLength(20);
    days.push('2026-02-28', '2026-02-01'); // two weekend days make 22
    for (const day of days) {
      for (let u = 0; u < 50; u++) {
        events.push(track('ended', `${day}T15:00:00+09:00`, `class-${u % 5}`, `user-${u}`, `cam-${day}`));
        events.push(track('started', `${day}T10:00:00+09:00`, `class-${u % 5}`, `user-${u}`, `cam-${day}`));
      }
    }
    await send(app, events);
  }, 120_000);
  afterAll(() => app.close());

  // The figure "1,100 video hours → 66,000 video_minutes" (and the seed's 9.24 TB = 0.14 GB/min ×
  // 66,000 min) is 50 users × 22 days × 1 h, or one 10-user class × 5 h × 22 days. 50 users × 5 h × 22
  // days is 5,500 video hours = 330,000 video_minutes. Both are asserted (see docs/meters.md).
  it('gives 330,000 video_minutes for 50 users, and 66,000 (1,100 video hours) per 10-user class', async () => {
    const month = 'from=2026-02-01T00:00:00%2B09:00&to=2026-03-01T00:00:00%2B09:00&tz=Asia/Seoul';
    const rows = await q(app, 'video_minutes', month + '&window=month');
    expect(rows).toEqual([{ window_start: '2026-02-01T00:00:00+09:00', window_end: '2026-03-01T00:00:00+09:00', value: '330000' }]);
    const daily = await q(app, 'video_minutes', month + '&window=day');
    expect(daily).toHaveLength(22);
    expect(daily.every((r) => r.value === '15000')).toBe(true);
    const byRoom = await q(app, 'video_minutes', month + '&group_by=room');
    expect(byRoom.map((r) => [r.room, r.value])).toEqual([0, 1, 2, 3, 4].map((i) => [`class-${i}`, '66000']));
    const oneClass = await q(app, 'video_minutes', month + '&filter[room]=class-0');
    expect(oneClass[0]!.value).toBe('66000'); // = 1,100 video hours
    const peak = await q(app, 'concurrent_participants', 'from=2026-02-02T00:00:00%2B09:00&to=2026-02-03T00:00:00%2B09:00&tz=Asia/Seoul');
    expect(peak[0]!.value).toBe('50');
    expect((await q(app, 'participant_minutes', month))[0]!.value).toBe('330000');
  });
});
