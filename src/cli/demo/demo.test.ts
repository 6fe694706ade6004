import { describe, expect, it } from 'vitest';
import { validateEvent } from '../../events/validate.ts';
import { demoEvents, type DemoEvent } from './events.ts';
import { DEMO_MODELS, demoUsers } from './catalog.ts';
import { budgetFor } from './setup.ts';

const now = new Date('2026-11-18T15:20:00Z'); // a Wednesday
const all = (o: Parameters<typeof demoEvents>[0], batch?: number) => [...demoEvents(o, batch)];

describe('tollgate demo: the generator', () => {
  const batches = all({ days: 21, users: 30, seed: 42, now }, 1000);
  const events = batches.flat();

  it('is seeded: the same options give the same events; another seed, others', () => {
    expect(JSON.stringify(all({ days: 21, users: 30, seed: 42, now }, 1000))).toBe(JSON.stringify(batches));
    expect(all({ days: 21, users: 30, seed: 43, now }).flat()[0]).not.toEqual(events[0]);
  });

  it('fills batches of the given size, ids unique, every event valid and not after now', () => {
    expect(batches.slice(0, -1).every((b) => b.length === 1000)).toBe(true);
    expect(new Set(events.map((e) => `${e.source}/${e.id}`)).size).toBe(events.length);
    for (const e of events) {
      expect(validateEvent(e).ok).toBe(true);
      expect(Date.parse(e.time)).toBeLessThanOrEqual(now.getTime());
    }
  });

  it('has usage today, fewer calls on weekend days, the 15 models, cache use, media and snapshots', () => {
    const llm = events.filter((e) => e.type === 'llm.usage');
    const perDay = new Map<string, number>();
    for (const e of llm) perDay.set(e.time.slice(0, 10), (perDay.get(e.time.slice(0, 10)) ?? 0) + 1);
    expect(perDay.get('2026-11-18')).toBeGreaterThan(0);
    const mean = (weekend: boolean) => {
      const days = [...perDay].filter(([d]) => [0, 6].includes(new Date(d).getUTCDay()) === weekend && d !== '2026-11-18');
      return days.reduce((s, [, n]) => s + n, 0) / days.length;
    };
    expect(mean(true)).toBeLessThan(mean(false) / 2);
    expect(new Set(llm.map((e) => e.data.model)).size).toBe(DEMO_MODELS.length);
    expect(llm.some((e: DemoEvent) => Number(e.data.cache_read_tokens) > 0)).toBe(true);
    expect(events.some((e) => e.type === 'media.track.started')).toBe(true);
    const snaps = events.filter((e) => e.type === 'resource.snapshot');
    expect(snaps.length).toBe(20 * 48 + Math.floor((15 * 60 + 20) / 30)); // 30-minute slots up to now
  });

  it('light media: a quarter of the sessions, two-hourly snapshots', () => {
    const light = all({ days: 21, users: 30, seed: 42, now, media: 'light' }).flat();
    const count = (xs: DemoEvent[], type: string) => xs.filter((e) => e.type === type).length;
    expect(count(light, 'resource.snapshot')).toBe(20 * 12 + 7);
    expect(count(light, 'media.track.started')).toBeLessThan(count(events, 'media.track.started') / 2);
  });

  it('users: spread over the teams, named in order', () => {
    const users = demoUsers({ users: 14, seed: 7 });
    expect(users[6]!.subject).toBe('user-007');
    expect(new Set(users.map((u) => u.team)).size).toBe(6);
  });
});

describe('tollgate demo: a team budget at a ratio of the spend', () => {
  it('rounds down, so the spend stays at or over the ratio even when it is a few cents', () => {
    expect(budgetFor('0.0585', 1.12)).toBe('0.052232');
    expect(Number('0.0585') / Number(budgetFor('0.0585', 1.12))).toBeGreaterThanOrEqual(1.12);
    expect(budgetFor('1234.5678', 1.12)).toBe('1102.29');
    expect(budgetFor('0', 1.12)).toBe('0.01');
  });
});
