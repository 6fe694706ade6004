import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mediaValues, pairSessions, union, peakConcurrency, type Mark, type Session } from './media.ts';

const key = { room: 'r', participant: 'p', track: 't' };
const mark = (m: 'start' | 'end', time: number, order = String(time) + m): Mark => ({ mark: m, time, kind: 'video', subject: null, team: null, order });

describe('pairSessions', () => {
  it('pairs whatever the arrival order, ignores duplicate starts and orphan ends', () => {
    const marks = [mark('end', 30), mark('start', 10), mark('start', 20), mark('end', 5), mark('start', 40), mark('end', 50)];
    const s = pairSessions(key, marks, []);
    expect(s.map((x) => [x.started_at, x.ended_at, x.closed_by])).toEqual([
      [10, 30, 'end'],
      [40, 50, 'end'],
    ]);
  });
  it('closes at room finish; a re-publish at the same instant continues; a zero-length pair stays closed', () => {
    expect(pairSessions(key, [mark('start', 0)], [100]).map((x) => [x.started_at, x.ended_at, x.closed_by])).toEqual([[0, 100, 'room_finished']]);
    expect(pairSessions(key, [mark('start', 0), mark('end', 10), mark('start', 10), mark('end', 20)], []).map((x) => [x.started_at, x.ended_at])).toEqual([
      [0, 10],
      [10, 20],
    ]);
    expect(pairSessions(key, [mark('start', 7), mark('end', 7)], []).map((x) => [x.started_at, x.ended_at])).toEqual([[7, 7]]);
  });
  it('is independent of arrival order (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom<'start' | 'end'>('start', 'end'), fc.integer({ min: 0, max: 50 })), { maxLength: 20 }), fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 2 }), (ms, fin) => {
        const marks = ms.map(([m, t], i) => mark(m, t, `${i}`));
        const a = pairSessions(key, marks, fin);
        const b = pairSessions(key, [...marks].reverse(), [...fin].reverse());
        expect(b).toEqual(a);
        for (const s of a) {
          if (s.ended_at !== null) expect(s.ended_at).toBeGreaterThanOrEqual(s.started_at);
        }
        for (let i = 1; i < a.length; i++) expect(a[i]!.started_at).toBeGreaterThanOrEqual(a[i - 1]!.ended_at!);
      }),
    );
  });
});

const arbSessions = fc.array(
  fc.record({
    participant: fc.constantFrom('a', 'b', 'c'),
    room: fc.constantFrom('r1', 'r2'),
    kind: fc.constantFrom('video', 'screen_share', 'audio'),
    start: fc.integer({ min: 0, max: 1000 }),
    len: fc.integer({ min: 0, max: 400 }),
    open: fc.boolean(),
  }),
  { maxLength: 15 },
);
const toSessions = (xs: Array<{ participant: string; room: string; kind: string; start: number; len: number; open: boolean }>): Session[] =>
  xs.map((x, i) => ({ room: x.room, participant: x.participant, track: `t${i}`, kind: x.kind, subject: null, team: null, started_at: x.start, ended_at: x.open ? null : x.start + x.len, closed_by: x.open ? null : 'end' }));

describe('mediaValues', () => {
  it('minutes are additive over any split of the range into windows (property)', () => {
    fc.assert(
      fc.property(arbSessions, fc.array(fc.integer({ min: 1, max: 1399 }), { maxLength: 6 }), (xs, cuts) => {
        const sessions = toSessions(xs);
        const bounds = [0, ...new Set(cuts.sort((a, b) => a - b)), 1400];
        const windows = bounds.slice(1).map((e, i) => [bounds[i]!, e] as [number, number]);
        const opts = { now: 1200, maxMs: 300 };
        for (const m of ['video_minutes', 'screen_share_minutes', 'participant_minutes'] as const) {
          const whole = mediaValues(m, sessions, [[0, 1400]], [], opts).reduce((s, v) => s + v.value, 0);
          const split = mediaValues(m, sessions, windows, [], opts).reduce((s, v) => s + v.value, 0);
          expect(split).toBe(whole);
        }
        // the peak never exceeds the number of distinct participants.
        const peak = mediaValues('concurrent_participants', sessions, [[0, 1400]], [], opts)[0]?.value ?? 0;
        expect(peak).toBeLessThanOrEqual(new Set(sessions.map((s) => s.participant)).size);
      }),
    );
  });
  it('union and peak', () => {
    expect(union([[5, 10], [0, 3], [2, 6]])).toEqual([[0, 10]]);
    expect(peakConcurrency([[0, 10], [10, 20], [5, 15]], 0, 20)).toBe(2);
  });
});
