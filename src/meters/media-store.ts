import type { Queryable } from '../shared/db/index.ts';
import type { StoredEvent } from '../events/types.ts';
import { normaliseKind, pairSessions, type Mark, type Session } from './media.ts';

/** SQL for media marks and sessions (src/meters owns media_marks, media_room_finishes, media_sessions). */

export const MEDIA_STARTED = 'media.track.started';
export const MEDIA_ENDED = 'media.track.ended';
export const ROOM_FINISHED = 'media.room.finished';

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : null);

interface MarkRow {
  source: string;
  id: string;
  room: string;
  participant: string;
  track: string;
  mark: 'start' | 'end';
  time: string;
  kind: string | null;
  subject: string | null;
  team: string | null;
}

/** A media event's mark, or null when it lacks a room or participant (it is stored, not paired). */
export function toMark(e: StoredEvent): MarkRow | null {
  const d = e.data ?? {};
  const room = str(d.room);
  const participant = str(d.participant) ?? e.subject;
  const kind = normaliseKind(d.kind);
  const track = str(d.track) ?? kind;
  if (!room || !participant || !track) return null;
  return {
    source: e.source,
    id: e.id,
    room,
    participant,
    track,
    mark: e.type === MEDIA_STARTED ? 'start' : 'end',
    time: new Date(e.time).toISOString(),
    kind,
    subject: e.subject,
    team: str(d.team) ?? e.team,
  };
}

/** Records the batch's media events and re-pairs every (room, participant, track) they touch. */
export async function ingestMedia(tx: Queryable, rows: StoredEvent[]): Promise<void> {
  const marks: MarkRow[] = [];
  const finishes: Array<{ source: string; id: string; room: string; time: string }> = [];
  for (const e of rows) {
    if (e.type === MEDIA_STARTED || e.type === MEDIA_ENDED) {
      const m = toMark(e);
      if (m) marks.push(m);
    } else if (e.type === ROOM_FINISHED) {
      const room = str(e.data?.room);
      if (room) finishes.push({ source: e.source, id: e.id, room, time: new Date(e.time).toISOString() });
    }
  }
  if (!marks.length && !finishes.length) return;
  if (marks.length) {
    const cols = ['source', 'id', 'room', 'participant', 'track', 'mark', 'time', 'kind', 'subject', 'team'] as const;
    await tx.query(
      `INSERT INTO media_marks (${cols.join(', ')})
       SELECT ${cols.map((c) => (c === 'time' ? 'time::timestamptz' : c)).join(', ')}
       FROM unnest(${cols.map((_, i) => `$${i + 1}::text[]`).join(', ')}) AS t(${cols.join(', ')})
       ON CONFLICT DO NOTHING`,
      cols.map((c) => marks.map((m) => m[c])),
    );
  }
  if (finishes.length) {
    await tx.query(
      `INSERT INTO media_room_finishes (source, id, room, time)
       SELECT s, i, r, t::timestamptz FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS x(s, i, r, t)
       ON CONFLICT DO NOTHING`,
      [finishes.map((f) => f.source), finishes.map((f) => f.id), finishes.map((f) => f.room), finishes.map((f) => f.time)],
    );
  }
  // Keys to re-pair: the marks' own keys plus every key of a room that just finished.
  const keys = new Map<string, { room: string; participant: string; track: string }>();
  for (const m of marks) keys.set(JSON.stringify([m.room, m.participant, m.track]), { room: m.room, participant: m.participant, track: m.track });
  const finishedRooms = [...new Set(finishes.map((f) => f.room))];
  if (finishedRooms.length) {
    const r = await tx.query<{ room: string; participant: string; track: string }>(
      'SELECT DISTINCT room, participant, track FROM media_marks WHERE room = ANY($1::text[])',
      [finishedRooms],
    );
    for (const k of r.rows) keys.set(JSON.stringify([k.room, k.participant, k.track]), k);
  }
  await repair(tx, [...keys.values()]);
}

async function repair(tx: Queryable, keys: Array<{ room: string; participant: string; track: string }>): Promise<void> {
  if (!keys.length) return;
  const rooms = keys.map((k) => k.room);
  const parts = keys.map((k) => k.participant);
  const tracks = keys.map((k) => k.track);
  const m = await tx.query<MarkRow>(
    `SELECT m.* FROM media_marks m JOIN unnest($1::text[], $2::text[], $3::text[]) AS k(room, participant, track)
       ON m.room = k.room AND m.participant = k.participant AND m.track = k.track`,
    [rooms, parts, tracks],
  );
  const f = await tx.query<{ room: string; time: string }>('SELECT room, time FROM media_room_finishes WHERE room = ANY($1::text[])', [[...new Set(rooms)]]);
  const finishesByRoom = new Map<string, number[]>();
  for (const r of f.rows) {
    const list = finishesByRoom.get(r.room) ?? [];
    list.push(new Date(r.time).getTime());
    finishesByRoom.set(r.room, list);
  }
  const marksByKey = new Map<string, Mark[]>();
  for (const r of m.rows) {
    const k = JSON.stringify([r.room, r.participant, r.track]);
    const list = marksByKey.get(k) ?? [];
    list.push({ mark: r.mark, time: new Date(r.time).getTime(), kind: r.kind, subject: r.subject, team: r.team, order: `${r.source}\u0000${r.id}` });
    marksByKey.set(k, list);
  }
  const sessions: Session[] = [];
  for (const key of keys) {
    sessions.push(...pairSessions(key, marksByKey.get(JSON.stringify([key.room, key.participant, key.track])) ?? [], finishesByRoom.get(key.room) ?? []));
  }
  await tx.query(
    `DELETE FROM media_sessions s USING unnest($1::text[], $2::text[], $3::text[]) AS k(room, participant, track)
     WHERE s.room = k.room AND s.participant = k.participant AND s.track = k.track`,
    [rooms, parts, tracks],
  );
  if (!sessions.length) return;
  const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
  await tx.query(
    `INSERT INTO media_sessions (room, participant, track, kind, subject, team, started_at, ended_at, closed_by)
     SELECT r, p, t, k, s, tm, st::timestamptz, en::timestamptz, cb
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[]) AS x(r, p, t, k, s, tm, st, en, cb)`,
    [
      sessions.map((s) => s.room),
      sessions.map((s) => s.participant),
      sessions.map((s) => s.track),
      sessions.map((s) => s.kind),
      sessions.map((s) => s.subject),
      sessions.map((s) => s.team),
      sessions.map((s) => iso(s.started_at)),
      sessions.map((s) => iso(s.ended_at)),
      sessions.map((s) => s.closed_by),
    ],
  );
}

/** Sessions that can overlap [from, to) given the maximum duration cap. */
export async function sessionsFor(q: Queryable, from: Date, to: Date, maxMs: number, filters: Record<string, string[]>): Promise<Session[]> {
  const params: unknown[] = [new Date(from.getTime() - maxMs).toISOString(), to.toISOString(), from.toISOString()];
  const where: string[] = [];
  for (const [name, values] of Object.entries(filters)) {
    if (!['room', 'participant', 'team'].includes(name)) continue;
    params.push(values);
    where.push(`${name} = ANY($${params.length}::text[])`);
  }
  const r = await q.query<{ room: string; participant: string; track: string; kind: string; subject: string | null; team: string | null; started_at: string; ended_at: string | null; closed_by: Session['closed_by'] }>(
    `SELECT * FROM media_sessions WHERE started_at >= $1 AND started_at < $2 AND (ended_at IS NULL OR ended_at > $3)
     ${where.length ? 'AND ' + where.join(' AND ') : ''}`,
    params,
  );
  return r.rows.map((s) => ({
    ...s,
    started_at: new Date(s.started_at).getTime(),
    ended_at: s.ended_at === null ? null : new Date(s.ended_at).getTime(),
  }));
}
