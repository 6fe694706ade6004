import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessToken } from 'livekit-server-sdk';
import { testApp, type TestApp } from '../helpers/app.ts';
import { fixedClock } from '../../src/shared/clock.ts';

const KEY = 'APIdevkey123';
const SECRET = 'devsecret-0123456789abcdefghijklmnopqrstuvwxyz';
const T0 = 1767949200; // 2026-01-09T09:00:00Z

/** Signs as a LiveKit server does: a JWT by the SDK's AccessToken with the body's sha256 grant. */
async function sign(body: string, o: { secret?: string; ttl?: number | string } = {}) {
  const at = new AccessToken(KEY, o.secret ?? SECRET, o.ttl !== undefined ? { ttl: o.ttl } : {});
  at.sha256 = createHash('sha256').update(body).digest('base64');
  return at.toJwt();
}

// proto3 JSON, as LiveKit sends it: int64 as strings, enum defaults (AUDIO, UNKNOWN) omitted.
const room = { sid: 'RM_hycBMAjmt6Ub', name: 'class-1', emptyTimeout: 300, creationTime: String(T0), numParticipants: 2 };
const alice = { sid: 'PA_alice', identity: 'alice', state: 'ACTIVE', joinedAt: String(T0 + 10), name: 'Alice', version: 3 };
const camera = { sid: 'TR_VCcam', type: 'VIDEO', name: 'camera', width: 1280, height: 720, simulcast: true, source: 'CAMERA', mimeType: 'video/VP8', mid: '1' };
const mic = { sid: 'TR_AMmic', name: 'microphone', source: 'MICROPHONE', mimeType: 'audio/opus', mid: '0' }; // no "type": AUDIO is the default
const screen = { sid: 'TR_SSscreen', type: 'VIDEO', name: 'screen', source: 'SCREEN_SHARE', width: 1920, height: 1080 };

const hook = (event: string, id: string, createdAt: number, extra: Record<string, unknown>) => JSON.stringify({ event, room, ...extra, id, createdAt: String(createdAt) });

let app: TestApp;
const clock = fixedClock('2026-01-09T09:30:00Z');

async function post(body: string, auth?: string) {
  return app.request('POST', '/webhooks/livekit', { key: null, rawBody: body, headers: { 'content-type': 'application/webhook+json', ...(auth ? { authorization: auth } : {}) } });
}
async function livekitEvents() {
  const r = await app.db.query<{ id: string; type: string; subject: string | null; data: any; time: Date }>(`SELECT id, type, subject, data, time FROM events WHERE source = 'livekit' ORDER BY time, id`);
  return r.rows;
}

beforeAll(async () => {
  app = await testApp({ clock, env: { TOLLGATE_LIVEKIT_API_KEY: KEY, TOLLGATE_LIVEKIT_API_SECRET: SECRET } });
});
afterAll(() => app?.close());

describe('LiveKit webhook', () => {
  it('accepts signed track_published events (camera → video, an audio track with no type → audio)', async () => {
    for (const [id, track, t] of [
      ['EV_cam', camera, T0 + 20],
      ['EV_mic', mic, T0 + 21],
      ['EV_scr', screen, T0 + 22],
    ] as const) {
      const body = hook('track_published', id, t, { participant: alice, track });
      const r = await post(body, await sign(body));
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ status: 'ok', events: 1 });
    }
    const ev = await livekitEvents();
    expect(ev.map((e) => [e.type, e.data.kind, e.data.source, e.subject])).toEqual([
      ['media.track.started', 'video', 'CAMERA', 'alice'],
      ['media.track.started', 'audio', 'MICROPHONE', 'alice'],
      ['media.track.started', 'screen_share', 'SCREEN_SHARE', 'alice'],
    ]);
    expect(new Date(ev[0]!.time).toISOString()).toBe('2026-01-09T09:00:20.000Z');
  });

  it('a replayed webhook id counts once', async () => {
    const body = hook('track_published', 'EV_cam', T0 + 20, { participant: alice, track: camera });
    const r = await post(body, await sign(body));
    expect(r.body).toMatchObject({ status: 'duplicate', events: 0 });
    expect(await livekitEvents()).toHaveLength(3);
  });

  it('401 and nothing stored for an altered body, a wrong secret, an expired token or no signature', async () => {
    const body = hook('track_unpublished', 'EV_bad', T0 + 30, { participant: alice, track: camera });
    const good = await sign(body);
    const altered = body.replace('class-1', 'class-2');
    for (const [b, auth] of [
      [altered, good],
      [body, await sign(body, { secret: 'another-secret-0123456789abcdefghijklmnop' })],
      [body, await sign(body, { ttl: '-1h' })],
      [body, undefined],
    ] as const) {
      const r = await post(b, auth);
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe('INVALID_WEBHOOK_SIGNATURE');
    }
    expect(await livekitEvents()).toHaveLength(3);
    expect((await app.db.query(`SELECT 1 FROM livekit_webhooks WHERE id = 'EV_bad'`)).rows).toHaveLength(0);
  });

  it('participant_left closes what the participant has open; the meters pair the sessions', async () => {
    const un = hook('track_unpublished', 'EV_un', T0 + 600, { participant: alice, track: screen });
    expect((await post(un, await sign(un))).body.events).toBe(1);
    const left = hook('participant_left', 'EV_left', T0 + 1200, { participant: { ...alice, state: 'DISCONNECTED' } });
    const r = await post(left, await sign(left));
    expect(r.body).toMatchObject({ status: 'ok', events: 3 }); // participant.left + camera and mic ended
    const ended = (await livekitEvents()).filter((e) => e.type === 'media.track.ended');
    expect(ended.map((e) => [e.data.track, e.data.closed_by]).sort()).toEqual([
      ['TR_AMmic', 'participant_left'],
      ['TR_SSscreen', 'track_unpublished'],
      ['TR_VCcam', 'participant_left'],
    ]);
    const open = await app.db.query(`SELECT 1 FROM livekit_tracks WHERE participant = 'alice' AND ended_at IS NULL`);
    expect(open.rows).toHaveLength(0);
    const sessions = await app.db.query<{ track: string; ended_at: Date | null }>(`SELECT track, ended_at FROM media_sessions WHERE participant = 'alice' ORDER BY track`);
    expect(sessions.rows.every((s) => s.ended_at !== null)).toBe(true);
  });

  it('room_finished closes the room; a track left open past the maximum is closed and marked', async () => {
    const bob = { ...alice, sid: 'PA_bob', identity: 'bob' };
    const pub = hook('track_published', 'EV_bob', T0 + 100, { participant: bob, track: { ...camera, sid: 'TR_bobcam' }, room: { ...room, name: 'class-2' } });
    await post(pub, await sign(pub));
    const fin = hook('room_finished', 'EV_fin', T0 + 2000, {});
    expect((await post(fin, await sign(fin))).body.events).toBe(1);
    expect((await app.db.query(`SELECT 1 FROM livekit_tracks WHERE room = 'class-2' AND ended_at IS NULL`)).rows).toHaveLength(1);
    clock.set('2026-01-09T22:00:00Z'); // 13 h later; the maximum is 12 h
    expect(await app.tg.collectors.sweepLivekit()).toEqual({ closed: 1 });
    const ended = (await livekitEvents()).find((e) => e.data.track === 'TR_bobcam' && e.type === 'media.track.ended')!;
    expect(ended.data.closed_by).toBe('max_duration');
    expect(new Date(ended.time).toISOString()).toBe('2026-01-09T21:01:40.000Z');
    expect(await app.tg.collectors.sweepLivekit()).toEqual({ closed: 0 });
  });
});
