import { createHash } from 'node:crypto';
import { z } from 'zod';
import { WebhookReceiver, type WebhookEvent } from 'livekit-server-sdk';
import type { App } from '../http/server.ts';
import type { Db } from '../shared/db/index.ts';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/log.ts';
import { ApiError } from '../shared/errors.ts';
import type { EventService } from '../events/service.ts';

/**
 * `POST /webhooks/livekit`: LiveKit's webhook, verified by livekit-server-sdk's WebhookReceiver
 * on the raw body (the JWT in `Authorization` carries the body's sha256; no API key). The event
 * is proto3 JSON: int64 fields (createdAt) are strings, enum defaults are omitted (an audio track
 * may have no `type`; a track's `source` may be missing = UNKNOWN) — the SDK's parser fills the
 * defaults. Media events go through the events ingest service (source "livekit"); the meters
 * domain pairs them into sessions. This domain keeps only which tracks its webhooks opened
 * (livekit_tracks), to close them on participant_left / room_finished / the maximum duration.
 */

export const LIVEKIT_SOURCE = 'livekit';

// @livekit/protocol enums (numbers once parsed).
const SOURCE: Record<number, string> = { 1: 'video', 2: 'audio', 3: 'screen_share', 4: 'audio' };
const SOURCE_NAME: Record<number, string> = { 0: 'UNKNOWN', 1: 'CAMERA', 2: 'MICROPHONE', 3: 'SCREEN_SHARE', 4: 'SCREEN_SHARE_AUDIO' };
const TYPE: Record<number, string> = { 0: 'audio', 1: 'video', 2: 'data' };

/** camera → video, screen share → screen_share, microphone / screen-share audio → audio; else from the track type. */
export function trackKind(source: number | undefined, type: number | undefined): string {
  return SOURCE[source ?? 0] ?? TYPE[type ?? 0] ?? 'audio';
}

export interface LivekitDeps {
  db: Db;
  events: EventService;
  clock: Clock;
  logger: Logger;
  credentials: () => Promise<{ apiKey: string; apiSecret: string } | null>;
}

interface OpenTrack {
  room: string;
  participant: string;
  track: string;
  kind: string;
  started_at: Date;
}

const media = (id: string, type: string, time: Date, subject: string | null, data: Record<string, unknown>) => ({
  specversion: '1.0',
  id,
  source: LIVEKIT_SOURCE,
  type,
  time: time.toISOString(),
  ...(subject ? { subject } : {}),
  data,
});

async function openTracks(db: Db, where: string, params: unknown[]): Promise<OpenTrack[]> {
  const r = await db.query<OpenTrack>(`SELECT room, participant, track, kind, started_at FROM livekit_tracks WHERE ended_at IS NULL AND ${where}`, params);
  return r.rows.map((x) => ({ ...x, started_at: new Date(x.started_at) }));
}

/** The events one webhook becomes, and the track-state changes that go with them. */
async function translate(db: Db, ev: WebhookEvent, id: string, at: Date) {
  const out: unknown[] = [];
  const opens: OpenTrack[] = [];
  const closes: Array<{ t: OpenTrack; by: string }> = [];
  const room = ev.room?.name || null;
  const identity = ev.participant?.identity || null;
  if (!room) return { out, opens, closes };
  switch (ev.event) {
    case 'track_published':
    case 'track_unpublished': {
      const track = ev.track;
      if (!identity || !track?.sid) break;
      const kind = trackKind(track.source as number, track.type as number);
      const data = { room, participant: identity, track: track.sid, kind, source: SOURCE_NAME[(track.source as number) ?? 0] ?? 'UNKNOWN', webhook: ev.event };
      if (ev.event === 'track_published') {
        out.push(media(id, 'media.track.started', at, identity, data));
        opens.push({ room, participant: identity, track: track.sid, kind, started_at: at });
      } else {
        out.push(media(id, 'media.track.ended', at, identity, { ...data, closed_by: 'track_unpublished' }));
        for (const t of await openTracks(db, 'room = $1 AND participant = $2 AND track = $3', [room, identity, track.sid])) closes.push({ t, by: 'track_unpublished' });
      }
      break;
    }
    case 'participant_joined':
      if (identity) out.push(media(id, 'media.participant.joined', at, identity, { room, participant: identity }));
      break;
    case 'participant_left': {
      if (!identity) break;
      out.push(media(id, 'media.participant.left', at, identity, { room, participant: identity }));
      for (const t of await openTracks(db, 'room = $1 AND participant = $2', [room, identity])) {
        out.push(media(`${id}:${t.track}`, 'media.track.ended', at, identity, { room, participant: identity, track: t.track, kind: t.kind, closed_by: 'participant_left' }));
        closes.push({ t, by: 'participant_left' });
      }
      break;
    }
    case 'room_finished': {
      // The meters close every session of the room at this instant.
      out.push(media(id, 'media.room.finished', at, null, { room }));
      for (const t of await openTracks(db, 'room = $1', [room])) closes.push({ t, by: 'room_finished' });
      break;
    }
  }
  return { out, opens, closes };
}

async function applyTracks(db: Db, id: string, event: string, opens: OpenTrack[], closes: Array<{ t: OpenTrack; by: string }>, at: Date, now: Date) {
  await db.transaction(async (tx) => {
    for (const o of opens) {
      await tx.query(`INSERT INTO livekit_tracks (room, participant, track, kind, started_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, [o.room, o.participant, o.track, o.kind, o.started_at.toISOString()]);
    }
    for (const { t, by } of closes) {
      await tx.query(`UPDATE livekit_tracks SET ended_at = $5, closed_by = $6 WHERE room = $1 AND participant = $2 AND track = $3 AND started_at = $4 AND ended_at IS NULL`, [
        t.room,
        t.participant,
        t.track,
        t.started_at.toISOString(),
        at.toISOString(),
        by,
      ]);
    }
    await tx.query(`INSERT INTO livekit_webhooks (id, event, received_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [id, event, now.toISOString()]);
  });
}

/** What the webhook answers: the webhook id (LiveKit's, or sha256 of the body) and the events it became (0 for a repeat). */
const webhookOut = z.object({ status: z.enum(['ok', 'duplicate']), id: z.string(), events: z.number() });

export function registerLivekitWebhook(app: App, d: LivekitDeps) {
  app.register(async (scope) => {
    // The signature covers the exact bytes: take the body as text, whatever its content type.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
    scope.post(
      '/webhooks/livekit',
      {
        schema: {
          tags: ['collectors'],
          summary: 'LiveKit webhook (the LiveKit signature is the credential); media events, each webhook id once',
          response: { 200: webhookOut },
        },
      },
      async (req, reply) => {
        const creds = await d.credentials();
        if (!creds) throw new ApiError({ type: 'unavailable', code: 'LIVEKIT_NOT_CONFIGURED', message: 'no LiveKit API key/secret is configured (TOLLGATE_LIVEKIT_API_KEY, TOLLGATE_LIVEKIT_API_SECRET)' });
        const body = typeof req.body === 'string' ? req.body : '';
        let ev: WebhookEvent;
        try {
          ev = await new WebhookReceiver(creds.apiKey, creds.apiSecret).receive(body, req.headers.authorization);
        } catch (e) {
          throw new ApiError({ type: 'authentication_error', code: 'INVALID_WEBHOOK_SIGNATURE', message: `the LiveKit webhook signature does not verify: ${(e as Error).message}` });
        }
        const now = d.clock.now();
        const id = ev.id || `sha256:${createHash('sha256').update(body).digest('hex')}`;
        const seen = await d.db.query(`SELECT 1 FROM livekit_webhooks WHERE id = $1`, [id]);
        if (seen.rows.length) return reply.send({ status: 'duplicate', id, events: 0 });
        const created = Number(ev.createdAt ?? 0n);
        const at = created > 0 ? new Date(created * 1000) : now;
        const { out, opens, closes } = await translate(d.db, ev, id, at);
        let events = 0;
        if (out.length) {
          const r = await d.events.ingest(out);
          events = r.accepted;
        }
        await applyTracks(d.db, id, ev.event, opens, closes, at, now);
        return reply.send({ status: 'ok', id, events });
      },
    );
  });
}

/**
 * Delivery is not guaranteed: a track still open `maxMs` after it started is closed at
 * start + max with `closed_by: max_duration` (the event says so).
 */
export async function sweepOpenTracks(d: Pick<LivekitDeps, 'db' | 'events' | 'clock'>, maxMs: number): Promise<{ closed: number }> {
  const now = d.clock.now();
  const stale = await openTracks(d.db, 'started_at < $1', [new Date(now.getTime() - maxMs).toISOString()]);
  if (!stale.length) return { closed: 0 };
  const events = stale.map((t) =>
    media(`max-duration:${t.room}:${t.participant}:${t.track}:${t.started_at.toISOString()}`, 'media.track.ended', new Date(t.started_at.getTime() + maxMs), t.participant, {
      room: t.room,
      participant: t.participant,
      track: t.track,
      kind: t.kind,
      closed_by: 'max_duration',
    }),
  );
  await d.events.ingest(events);
  await d.db.transaction(async (tx) => {
    for (const t of stale) {
      await tx.query(`UPDATE livekit_tracks SET ended_at = $5, closed_by = 'max_duration' WHERE room = $1 AND participant = $2 AND track = $3 AND started_at = $4 AND ended_at IS NULL`, [
        t.room,
        t.participant,
        t.track,
        t.started_at.toISOString(),
        new Date(t.started_at.getTime() + maxMs).toISOString(),
      ]);
    }
  });
  return { closed: stale.length };
}
