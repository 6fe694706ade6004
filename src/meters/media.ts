/**
 * Media sessions, pure: pairing track marks into sessions, and the per-window values
 * (video/screen-share/participant minutes, concurrent participants). Times are epoch ms.
 */

export type Kind = 'video' | 'screen_share' | 'audio' | string;

export interface Mark {
  mark: 'start' | 'end';
  time: number;
  kind: string | null;
  subject: string | null;
  team: string | null;
  /** Tie-break for identical times: (source, id). */
  order: string;
}

export interface Session {
  room: string;
  participant: string;
  track: string;
  kind: Kind;
  subject: string | null;
  team: string | null;
  started_at: number;
  ended_at: number | null;
  closed_by: 'end' | 'room_finished' | null;
}

/** LiveKit's track sources and common spellings → video | screen_share | audio. */
export function normaliseKind(k: unknown): string | null {
  if (typeof k !== 'string' || !k) return null;
  const s = k.toLowerCase().replace(/[\s-]/g, '_');
  if (s === 'video' || s === 'camera') return 'video';
  if (s === 'screen_share' || s === 'screenshare' || s === 'screen') return 'screen_share';
  if (s === 'audio' || s === 'microphone' || s === 'mic' || s === 'screen_share_audio') return 'audio';
  return s;
}

/**
 * Pairs the marks of one (room, participant, track) with the room's finish times, in time order
 * whatever order they arrived in:
 * - a start opens a session unless one is open (a duplicate start is ignored: the earliest wins);
 * - an end closes the open session; an end with nothing open is ignored (until its start arrives,
 *   when the key is paired again);
 * - a room finish closes the open session at its time;
 * - at one instant, an open session closes before a new one opens (a re-publish), and a start and
 *   an end at the same instant with nothing open make a zero-length session.
 * A session left open stays open (ended_at null); queries cap it at the maximum duration.
 */
export function pairSessions(key: { room: string; participant: string; track: string }, marks: Mark[], finishes: number[]): Session[] {
  const times = new Set<number>([...marks.map((m) => m.time), ...finishes]);
  const byTime = new Map<number, { starts: Mark[]; ends: Mark[]; finish: boolean }>();
  for (const t of times) byTime.set(t, { starts: [], ends: [], finish: false });
  for (const m of marks) (m.mark === 'start' ? byTime.get(m.time)!.starts : byTime.get(m.time)!.ends).push(m);
  for (const f of finishes) byTime.get(f)!.finish = true;
  const kindOf = marks.find((m) => m.mark === 'start' && m.kind)?.kind ?? marks.find((m) => m.kind)?.kind ?? 'unknown';
  const sessions: Session[] = [];
  let open: Session | null = null;
  const first = <T extends { order: string }>(xs: T[]) => [...xs].sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0))[0];
  for (const t of [...times].sort((a, b) => a - b)) {
    const g = byTime.get(t)!;
    let ends = g.ends.length;
    if (open && (ends > 0 || g.finish)) {
      open.ended_at = t;
      open.closed_by = ends > 0 ? 'end' : 'room_finished';
      if (ends > 0) ends--;
      open = null;
    }
    if (g.starts.length && !open) {
      const s = first(g.starts)!;
      open = {
        ...key,
        kind: s.kind ?? kindOf,
        subject: s.subject,
        team: s.team,
        started_at: t,
        ended_at: null,
        closed_by: null,
      };
      sessions.push(open);
      if (ends > 0) {
        open.ended_at = t;
        open.closed_by = 'end';
        open = null;
      } else if (g.finish) {
        open.ended_at = t;
        open.closed_by = 'room_finished';
        open = null;
      }
    }
  }
  return sessions;
}

/** The part of a session that counts: capped at maxMs after its start, and at `now` while open. */
export function effectiveInterval(s: Session, now: number, maxMs: number): [number, number] | null {
  let end = s.ended_at ?? now;
  end = Math.min(end, s.started_at + maxMs);
  if (s.ended_at === null) end = Math.min(end, now);
  return end > s.started_at ? [s.started_at, end] : null;
}

export function overlap(a: [number, number], ws: number, we: number): number {
  return Math.max(0, Math.min(a[1], we) - Math.max(a[0], ws));
}

/** Union of intervals (sorted, merged). */
export function union(intervals: Array<[number, number]>): Array<[number, number]> {
  const xs = [...intervals].sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const [s, e] of xs) {
    const last = out[out.length - 1];
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}

/** Peak count of overlapping half-open intervals within [ws, we) (ends before starts at one instant). */
export function peakConcurrency(intervals: Array<[number, number]>, ws: number, we: number): number {
  const ev: Array<[number, number]> = [];
  for (const [s, e] of intervals) {
    const a = Math.max(s, ws);
    const b = Math.min(e, we);
    if (b > a) ev.push([a, 1], [b, -1]);
  }
  ev.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let cur = 0;
  let peak = 0;
  for (const [, d] of ev) {
    cur += d;
    if (cur > peak) peak = cur;
  }
  return peak;
}

export type MediaMeter = 'video_minutes' | 'screen_share_minutes' | 'participant_minutes' | 'concurrent_participants';

export interface MediaWindowValue {
  w: number;
  groups: Record<string, string | null>;
  /** Milliseconds for the minutes meters, a count for concurrent_participants. */
  value: number;
}

/**
 * Values per window and group. Windows are [start, end) ms pairs. Groups: room, participant, team.
 * - video/screen_share minutes: each session of that kind contributes its overlap with the window;
 * - participant_minutes: per (room, participant) the union of all its track sessions;
 * - concurrent_participants: the peak number of distinct participants with at least one open
 *   track (any kind) at one instant within the window (per room when grouped by room, else a
 *   participant in two rooms at once counts once).
 */
export function mediaValues(
  meter: MediaMeter,
  sessions: Session[],
  windows: Array<[number, number]>,
  groupBy: string[],
  opts: { now: number; maxMs: number },
): MediaWindowValue[] {
  const groupOf = (s: Session): Record<string, string | null> =>
    Object.fromEntries(groupBy.map((g) => [g, g === 'room' ? s.room : g === 'participant' ? s.participant : g === 'team' ? s.team : null]));
  // (group key, unit) → intervals, where a unit is the thing counted once.
  const buckets = new Map<string, { groups: Record<string, string | null>; units: Map<string, Array<[number, number]>> }>();
  for (const s of sessions) {
    if (meter === 'video_minutes' && s.kind !== 'video') continue;
    if (meter === 'screen_share_minutes' && s.kind !== 'screen_share') continue;
    const iv = effectiveInterval(s, opts.now, opts.maxMs);
    if (!iv) continue;
    const groups = groupOf(s);
    const gk = JSON.stringify(groupBy.map((g) => groups[g]));
    let b = buckets.get(gk);
    if (!b) buckets.set(gk, (b = { groups, units: new Map() }));
    const unit =
      meter === 'participant_minutes'
        ? JSON.stringify([s.room, s.participant])
        : meter === 'concurrent_participants'
          ? s.participant
          : JSON.stringify([s.room, s.participant, s.track, s.started_at]);
    let list = b.units.get(unit);
    if (!list) b.units.set(unit, (list = []));
    list.push(iv);
  }
  const out: MediaWindowValue[] = [];
  for (const b of buckets.values()) {
    const merged = [...b.units.values()].map(union);
    windows.forEach(([ws, we], i) => {
      let value = 0;
      if (meter === 'concurrent_participants') value = peakConcurrency(merged.flat(), ws, we);
      else for (const u of merged) for (const iv of u) value += overlap(iv, ws, we);
      if (value > 0) out.push({ w: i + 1, groups: b.groups, value });
    });
  }
  return out;
}
