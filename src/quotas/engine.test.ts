import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Money } from '../shared/money.ts';
import { admit, burnOrder, run, type EngineInput, type GrantInput } from './engine.ts';
import { nextPeriodStart, periodStart } from './periods.ts';

const SEOUL = 'Asia/Seoul';
const NY = 'America/New_York';
const SEED003 = { warning: '0.9', critical: '0.95', block: '1.05' };
const d = (s: string) => new Date(s);

function grant(id: string, over: Partial<GrantInput> = {}): GrantInput {
  return { id, kind: 'free', amount: '100', priority: 10, effective_at: d('2026-01-01T00:00:00Z'), expires_at: null, recurring: null, voided_at: null, created_at: d('2026-01-01T00:00:00Z'), ...over };
}

/** Seed 003: 100,000 free tokens a month (Asia/Seoul), purchased tokens first and kept. */
function seed003(usage: EngineInput['usage'], now: string, extra: GrantInput[] = []): EngineInput {
  return {
    tz: SEOUL,
    period: 'month',
    thresholds: SEED003,
    start: d('2025-12-31T15:00:00Z'), // 2026-01-01 00:00 Seoul
    now: d(now),
    usage,
    grants: [grant('free', { amount: '100000', priority: 10, recurring: 'month', effective_at: d('2025-12-31T15:00:00Z') }), ...extra],
  };
}
const purchased = (amount: string, at = '2026-01-05T00:00:00Z', id = 'buy') => grant(id, { kind: 'purchased', amount, priority: 1, effective_at: d(at), created_at: d(at) });

describe('seed 003 policy', () => {
  it('resets the free tokens at 00:00 on the 1st in Asia/Seoul, not UTC', () => {
    const usage = [{ at: d('2026-01-20T00:00:00Z'), amount: 60_000 }];
    // 2026-01-31T15:00Z is Feb 1 00:00 in Seoul: a minute before, January still counts.
    const before = run(seed003(usage, '2026-01-31T14:59:00Z'));
    expect(before.usage.toFixed()).toBe('60000');
    expect(before.balance.toFixed()).toBe('40000');
    expect(before.resets_at.toISOString()).toBe('2026-01-31T15:00:00.000Z');
    const after = run(seed003(usage, '2026-01-31T15:00:00Z'));
    expect(after.usage.toFixed()).toBe('0');
    expect(after.balance.toFixed()).toBe('100000');
    expect(after.period_start.toISOString()).toBe('2026-01-31T15:00:00.000Z');
  });

  it('spends purchased tokens first and keeps their rest across the reset', () => {
    const usage = [{ at: d('2026-01-10T00:00:00Z'), amount: 30_000 }];
    const jan = run(seed003(usage, '2026-01-20T00:00:00Z', [purchased('50000')]));
    const byId = Object.fromEntries(jan.grants.map((g) => [g.id, g]));
    expect(byId.buy!.used).toBe('30000');
    expect(byId.buy!.balance).toBe('20000');
    expect(byId.free!.balance).toBe('100000');
    expect(jan.available.toFixed()).toBe('150000');
    const feb = run(seed003([...usage, { at: d('2026-02-03T00:00:00Z'), amount: 25_000 }], '2026-02-10T00:00:00Z', [purchased('50000')]));
    const f = Object.fromEntries(feb.grants.map((g) => [g.id, g]));
    expect(f.buy!.balance).toBe('0'); // the 20,000 kept from January went first
    expect(f.free!.balance).toBe('95000');
    expect(feb.available.toFixed()).toBe('120000');
    expect(feb.usage.toFixed()).toBe('25000');
  });

  it('warns at 90 %, is critical at 95 %, blocks at 105 %', () => {
    const at = (n: number) => run(seed003([{ at: d('2026-01-10T00:00:00Z'), amount: n }], '2026-01-20T00:00:00Z'));
    expect(at(89_999).level).toBe('ok');
    expect(at(90_000).level).toBe('warning');
    expect(at(94_999).level).toBe('warning');
    expect(at(95_000).level).toBe('critical');
    expect(at(104_999).level).toBe('critical');
    expect(at(105_000).level).toBe('blocked');
    expect(at(105_000).percent!.toFixed()).toBe('1.05');
    expect(at(105_000).balance.toFixed()).toBe('0');
  });

  it('estimates turns left from the average usage per request', () => {
    const r = run({ ...seed003([{ at: d('2026-01-10T00:00:00Z'), amount: 91_000 }], '2026-01-20T00:00:00Z'), avg_per_request: '1000' });
    expect(r.balance.toFixed()).toBe('9000');
    expect(r.estimated_turns).toBe(9);
    expect(run({ ...seed003([], '2026-01-20T00:00:00Z'), avg_per_request: '3' }).estimated_turns).toBe(33_333);
    expect(run({ ...seed003([], '2026-01-20T00:00:00Z'), avg_per_request: null }).estimated_turns).toBeNull();
  });

  it('admits up to the block threshold counting reservations, never past it', () => {
    const r = run(seed003([{ at: d('2026-01-10T00:00:00Z'), amount: 100_000 }], '2026-01-20T00:00:00Z'));
    const a = admit(r.usage, r.available, new Money(0), new Money(4000), SEED003);
    expect(a).toMatchObject({ allowed: true, level: 'critical' });
    expect(a.remaining.toFixed()).toBe('1000');
    expect(admit(r.usage, r.available, new Money(4000), new Money(1001), SEED003).allowed).toBe(false);
    expect(admit(r.usage, r.available, new Money(4000), new Money(1000), SEED003).allowed).toBe(true);
    expect(admit(r.usage, r.available, new Money(5000), new Money(0), SEED003).allowed).toBe(false);
  });
});

describe('periods in the entitlement zone', () => {
  const daily = (now: string, usage: EngineInput['usage']): EngineInput => ({
    tz: NY, period: 'day', thresholds: SEED003, start: d('2026-03-01T05:00:00Z'), now: d(now), usage,
    grants: [grant('daily', { amount: '1000', recurring: 'day', effective_at: d('2026-03-01T05:00:00Z') })],
  });

  it('a daily entitlement in America/New_York across spring-forward (23-hour day)', () => {
    // 2026-03-08 is 23 hours long: 05:00Z → 04:00Z next day.
    expect(periodStart(NY, 'day', d('2026-03-08T12:00:00Z')).toISOString()).toBe('2026-03-08T05:00:00.000Z');
    expect(nextPeriodStart(NY, 'day', d('2026-03-08T12:00:00Z')).toISOString()).toBe('2026-03-09T04:00:00.000Z');
    const usage = [{ at: d('2026-03-09T03:30:00Z'), amount: 700 }, { at: d('2026-03-09T04:00:00Z'), amount: 100 }];
    expect(run(daily('2026-03-09T03:59:00Z', usage)).balance.toFixed()).toBe('300');
    const next = run(daily('2026-03-09T04:30:00Z', usage));
    expect(next.usage.toFixed()).toBe('100');
    expect(next.balance.toFixed()).toBe('900');
  });

  it('a daily entitlement in America/New_York across fall-back (25-hour day)', () => {
    expect(periodStart(NY, 'day', d('2026-11-01T12:00:00Z')).toISOString()).toBe('2026-11-01T04:00:00.000Z');
    expect(nextPeriodStart(NY, 'day', d('2026-11-01T12:00:00Z')).toISOString()).toBe('2026-11-02T05:00:00.000Z');
    const usage = [{ at: d('2026-11-02T04:30:00Z'), amount: 600 }]; // 23:30 EST on Nov 1
    const r = run({ ...daily('2026-11-02T04:45:00Z', usage), start: d('2026-10-30T04:00:00Z') });
    expect(r.period_start.toISOString()).toBe('2026-11-01T04:00:00.000Z');
    expect(r.usage.toFixed()).toBe('600');
    expect(run({ ...daily('2026-11-02T05:00:00Z', usage), start: d('2026-10-30T04:00:00Z') }).usage.toFixed()).toBe('0');
  });

  it('a monthly entitlement across 28, 29, 30 and 31-day months', () => {
    const cases: Array<[string, string, number]> = [
      ['2026-02-10T00:00:00Z', '2026-02-28T15:00:00.000Z', 28],
      ['2028-02-10T00:00:00Z', '2028-02-29T15:00:00.000Z', 29],
      ['2026-04-10T00:00:00Z', '2026-04-30T15:00:00.000Z', 30],
      ['2026-01-10T00:00:00Z', '2026-01-31T15:00:00.000Z', 31],
    ];
    for (const [now, resets, days] of cases) {
      const start = periodStart(SEOUL, 'month', d(now));
      const r = run({ ...seed003([{ at: d(now), amount: 5 }], now), start });
      expect(r.resets_at.toISOString()).toBe(resets);
      expect((r.resets_at.getTime() - r.period_start.getTime()) / 86_400_000).toBe(days);
      expect(r.balance.toFixed()).toBe('99995');
    }
    // Refilled at each of 12 month starts, never more than once.
    const year = run({ ...seed003([], '2026-12-31T00:00:00Z'), usage: [{ at: d('2026-12-05T00:00:00Z'), amount: 10 }] });
    expect(year.available.toFixed()).toBe('100000');
  });
});

describe('regressions from OpenMeter and LiteLLM', () => {
  it('OpenMeter #4846: usage beyond every grant never leaves a positive balance; a later grant pays it first', () => {
    const r = run(seed003([{ at: d('2026-01-10T00:00:00Z'), amount: 120_000 }], '2026-01-20T00:00:00Z'));
    expect(r.balance.toFixed()).toBe('0');
    expect(r.overage.toFixed()).toBe('20000');
    const topped = run(seed003([{ at: d('2026-01-10T00:00:00Z'), amount: 120_000 }], '2026-01-20T00:00:00Z', [purchased('50000', '2026-01-15T00:00:00Z')]));
    expect(topped.balance.toFixed()).toBe('30000');
    expect(topped.available.minus(topped.usage).toFixed()).toBe('30000');
  });

  it('OpenMeter #1408: a recurrence landing on a reset is counted once', () => {
    const r = run(seed003([{ at: d('2026-02-02T00:00:00Z'), amount: 10 }], '2026-02-05T00:00:00Z'));
    expect(r.available.toFixed()).toBe('100000');
    expect(r.balance.toFixed()).toBe('99990');
  });

  it('OpenMeter #1071: a grant issued exactly at the reset instant is counted in the new period', () => {
    const reset = '2026-01-31T15:00:00Z';
    const r = run(seed003([{ at: d('2026-02-02T00:00:00Z'), amount: 10 }], '2026-02-05T00:00:00Z', [purchased('500', reset)]));
    expect(r.available.toFixed()).toBe('100500');
    expect(Object.fromEntries(r.grants.map((g) => [g.id, g.balance])).buy).toBe('490');
  });

  it('OpenMeter #2406: an event arriving late for an earlier period is counted where it happened', () => {
    const on = [{ at: d('2026-01-10T00:00:00Z'), amount: 30_000 }];
    const late = [...on, { at: d('2026-01-12T00:00:00Z'), amount: 15_000 }];
    const a = run(seed003(on, '2026-02-03T00:00:00Z', [purchased('50000')]));
    const b = run(seed003(late, '2026-02-03T00:00:00Z', [purchased('50000')]));
    expect(Object.fromEntries(a.grants.map((g) => [g.id, g.balance])).buy).toBe('20000');
    expect(Object.fromEntries(b.grants.map((g) => [g.id, g.balance])).buy).toBe('5000');
    expect(b.usage.toFixed()).toBe('0'); // nothing in February
  });

  it('LiteLLM #34732/#40095/#26672: concurrent admissions each count the ones before (check and reserve are one step)', () => {
    const r = run(seed003([{ at: d('2026-01-10T00:00:00Z'), amount: 99_000 }], '2026-01-20T00:00:00Z'));
    let reserved = new Money(0);
    let admitted = 0;
    for (let i = 0; i < 100; i++) {
      const a = admit(r.usage, r.available, reserved, new Money(1000), SEED003);
      if (a.allowed) {
        reserved = reserved.plus(1000);
        admitted++;
      }
    }
    expect(admitted).toBe(6);
    expect(r.usage.plus(reserved).lte(105_000)).toBe(true);
  });

  it('LiteLLM #27639/#30519: released reservations give their room back (no phantom 429 below the cap)', () => {
    const r = run(seed003([{ at: d('2026-01-10T00:00:00Z'), amount: 10_000 }], '2026-01-20T00:00:00Z'));
    // A cancelled stream releases its 80,000; what remains reserved is only the live ones.
    expect(admit(r.usage, r.available, new Money(80_000), new Money(20_000), SEED003).allowed).toBe(false);
    expect(admit(r.usage, r.available, new Money(0), new Money(20_000), SEED003).allowed).toBe(true);
  });

  it('LiteLLM #34896: the reset is the zone\'s midnight as an instant, not a naive UTC wall time', () => {
    expect(periodStart(SEOUL, 'month', d('2026-01-31T15:00:00Z')).toISOString()).toBe('2026-01-31T15:00:00.000Z');
    expect(periodStart(SEOUL, 'day', d('2026-01-10T14:59:59Z')).toISOString()).toBe('2026-01-09T15:00:00.000Z');
    expect(periodStart('Asia/Kolkata', 'day', d('2026-01-10T00:00:00Z')).toISOString()).toBe('2026-01-09T18:30:00.000Z');
  });

  it('LiteLLM #33161: weekly periods start on the configured weekday, Monday only by default', () => {
    const wed = d('2026-01-07T12:00:00Z'); // a Wednesday
    expect(periodStart('UTC', 'week', wed).toISOString()).toBe('2026-01-05T00:00:00.000Z');
    expect(periodStart('UTC', 'week', wed, 7).toISOString()).toBe('2026-01-04T00:00:00.000Z');
    expect(periodStart('UTC', 'week', wed, 3).toISOString()).toBe('2026-01-07T00:00:00.000Z');
    expect(nextPeriodStart('UTC', 'week', wed, 6).toISOString()).toBe('2026-01-10T00:00:00.000Z');
    const r = run({ tz: 'UTC', period: 'week', weekStart: 7, thresholds: SEED003, start: d('2026-01-04T00:00:00Z'), now: d('2026-01-11T01:00:00Z'),
      usage: [{ at: d('2026-01-10T00:00:00Z'), amount: 50 }], grants: [grant('w', { recurring: 'week', effective_at: d('2026-01-04T00:00:00Z') })] });
    expect(r.usage.toFixed()).toBe('0');
  });

  it('LiteLLM #5651: an end user\'s (subject) budget resets like any other', () => {
    const r = run({ tz: 'UTC', period: 'day', thresholds: SEED003, start: d('2026-01-01T00:00:00Z'), now: d('2026-01-03T00:00:01Z'),
      usage: [{ at: d('2026-01-01T10:00:00Z'), amount: 100 }, { at: d('2026-01-02T10:00:00Z'), amount: 100 }], grants: [grant('u', { recurring: 'day' })] });
    expect(r.level).toBe('ok');
    expect(r.balance.toFixed()).toBe('100');
  });
});

describe('grants', () => {
  it('burns in priority, then earliest expiry, then oldest order', () => {
    const gs = [
      grant('late-old', { priority: 5, created_at: d('2026-01-01T00:00:00Z') }),
      grant('expiring', { priority: 5, expires_at: d('2026-06-01T00:00:00Z') }),
      grant('first', { priority: 1 }),
      grant('late-new', { priority: 5, effective_at: d('2026-01-02T00:00:00Z') }),
    ];
    expect([...gs].sort(burnOrder).map((g) => g.id)).toEqual(['first', 'expiring', 'late-old', 'late-new']);
  });

  it('a voided grant stops giving from its void time, its past burns stay', () => {
    const gs = [grant('a', { priority: 1, voided_at: d('2026-01-10T00:00:00Z') }), grant('b', { priority: 2 })];
    const r = run({ tz: 'UTC', period: 'month', thresholds: SEED003, start: d('2026-01-01T00:00:00Z'), now: d('2026-01-20T00:00:00Z'), grants: gs,
      usage: [{ at: d('2026-01-05T00:00:00Z'), amount: 60 }, { at: d('2026-01-15T00:00:00Z'), amount: 30 }] });
    const s = Object.fromEntries(r.grants.map((g) => [g.id, g]));
    expect(s.a!.active).toBe(false);
    expect(s.b!.balance).toBe('70');
    expect(r.available.toFixed()).toBe('160');
    expect(r.balance.toFixed()).toBe('70');
  });

  it('an expired grant\'s rest is gone', () => {
    const r = run({ tz: 'UTC', period: 'month', thresholds: SEED003, start: d('2026-01-01T00:00:00Z'), now: d('2026-01-20T00:00:00Z'),
      grants: [grant('promo', { kind: 'promotional', priority: 1, expires_at: d('2026-01-10T00:00:00Z') }), grant('free', { priority: 10 })],
      usage: [{ at: d('2026-01-05T00:00:00Z'), amount: 40 }, { at: d('2026-01-12T00:00:00Z'), amount: 40 }] });
    expect(r.balance.toFixed()).toBe('60');
    expect(r.available.toFixed()).toBe('140');
  });
});

// --- properties ---

const T0 = Date.parse('2026-01-01T00:00:00Z');
const SPAN = 90 * 86_400_000;
const arbGrant = fc.record({
  amount: fc.integer({ min: 0, max: 10_000 }),
  priority: fc.integer({ min: 0, max: 3 }),
  eff: fc.integer({ min: 0, max: SPAN }),
  exp: fc.option(fc.integer({ min: 1, max: SPAN }), { nil: null }),
  recurring: fc.constantFrom(null, 'day', 'week', 'month'),
  kind: fc.constantFrom('free', 'purchased', 'promotional'),
});
const arbUsage = fc.array(fc.record({ at: fc.integer({ min: 0, max: SPAN }), amount: fc.integer({ min: 0, max: 3_000 }) }), { maxLength: 40 });
const arbInput = fc.record({
  grants: fc.array(arbGrant, { maxLength: 5 }),
  usage: arbUsage,
  tz: fc.constantFrom('UTC', 'Asia/Seoul', 'America/New_York', 'Asia/Kathmandu'),
  period: fc.constantFrom('day', 'week', 'month'),
}).map(({ grants, usage, tz, period }): EngineInput => ({
  tz, period: period as 'day', thresholds: SEED003, start: new Date(T0), now: new Date(T0 + SPAN),
  grants: grants.map((g, i) => grant(`g${i}`, { amount: String(g.amount), priority: g.priority, kind: g.kind as 'free', effective_at: new Date(T0 + g.eff), created_at: new Date(T0 + g.eff),
    expires_at: g.exp === null ? null : new Date(T0 + g.eff + g.exp), recurring: g.recurring as null })),
  usage: usage.map((u) => ({ at: new Date(T0 + u.at), amount: u.amount })),
}));

describe('engine properties', () => {
  it('each phase burns exactly min(usage + debt, what the grants hold); burns never exceed usage', () => {
    fc.assert(fc.property(arbInput, (input) => {
      const r = run(input);
      let burned = new Money(0);
      let used = new Money(0);
      for (const p of r.phases) {
        let s = new Money(0);
        for (const b of p.burns.values()) {
          expect(b.gte(0)).toBe(true);
          s = s.plus(b);
        }
        expect(s.lte(p.usage)).toBe(true);
        burned = burned.plus(s);
        used = used.plus(p.usage);
      }
      expect(burned.lte(used)).toBe(true);
      // In the period: usage = what grants covered + overage.
      const covered = r.available.minus(r.balance);
      expect(covered.plus(r.overage).toFixed()).toBe(r.usage.toFixed());
      expect(r.balance.gte(0)).toBe(true);
    }), { numRuns: 150 });
  });

  it('replaying usage in any order of arrival gives the same balances', () => {
    fc.assert(fc.property(arbInput, fc.integer(), (input, seed) => {
      const shuffled = [...input.usage];
      let s = seed;
      for (let i = shuffled.length - 1; i > 0; i--) {
        s = (s * 1103515245 + 12345) | 0;
        const j = Math.abs(s) % (i + 1);
        [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
      }
      const a = run(input);
      const b = run({ ...input, usage: shuffled });
      expect(b.grants).toEqual(a.grants);
      expect(b.balance.toFixed()).toBe(a.balance.toFixed());
    }), { numRuns: 150 });
  });

  it('extra window boundaries never change the result', () => {
    fc.assert(fc.property(arbInput, fc.array(fc.integer({ min: 0, max: SPAN }), { maxLength: 10 }), (input, ws) => {
      const a = run(input);
      const b = run({ ...input, windows: ws.map((w) => new Date(T0 + w)) });
      expect(b.grants).toEqual(a.grants);
      expect(b.available.toFixed()).toBe(a.available.toFixed());
    }), { numRuns: 100 });
  });

  it('grants burn in the specified order: a grant burns only when every earlier active one is empty', () => {
    fc.assert(fc.property(arbInput, (input) => {
      const r = run({ ...input, grants: input.grants.map((g) => ({ ...g, recurring: null })) });
      const order = [...input.grants].sort(burnOrder).map((g) => g.id);
      const phases = r.phases;
      for (const p of phases) {
        const burnt = order.filter((id) => p.burns.has(id));
        // Only the last grant burnt in a phase may keep a balance; the ones before it were emptied.
        const idx = burnt.map((id) => order.indexOf(id));
        expect([...idx].sort((x, y) => x - y)).toEqual(idx);
      }
    }), { numRuns: 100 });
  });

  it('replay from a snapshot == replay from creation (a stored state is only a starting point)', () => {
    fc.assert(fc.property(arbInput, fc.integer({ min: 0, max: SPAN }), fc.integer({ min: 0, max: SPAN }), fc.constantFrom('any', 'reset', 'grant'), (input, s, lag, snap) => {
      // S anywhere, exactly on a period reset, or exactly on a grant's effective instant (refills, gives).
      let at = new Date(T0 + s);
      if (snap === 'reset') at = new Date(Math.max(T0, periodStart(input.tz, input.period, at).getTime()));
      if (snap === 'grant' && input.grants.length) at = input.grants[s % input.grants.length]!.effective_at;
      s = at.getTime() - T0;
      // The snapshot was captured by an earlier computation (its own `now` between S and now).
      const taken = run({ ...input, now: new Date(Math.min(T0 + SPAN, T0 + s + lag)), captureAt: at }).state!;
      expect(taken.at.getTime()).toBe(at.getTime());
      const full = run(input);
      const resumed = run({ ...input, resume: JSON.parse(JSON.stringify(taken), (k, v) => (k === 'at' ? new Date(v) : v)), usage: input.usage.filter((u) => u.at >= at) });
      expect(resumed.grants).toEqual(full.grants);
      for (const k of ['usage', 'available', 'balance', 'overage'] as const) expect(resumed[k].toFixed()).toBe(full[k].toFixed());
      expect(resumed.level).toBe(full.level);
      expect(resumed.resets_at).toEqual(full.resets_at);
    }), { numRuns: 200 });
  });

  it('admissions never take usage + reservations past the block threshold', () => {
    fc.assert(fc.property(arbInput, fc.array(fc.integer({ min: 0, max: 5_000 }), { maxLength: 50 }), (input, asks) => {
      const r = run(input);
      let reserved = new Money(0);
      for (const n of asks) {
        const a = admit(r.usage, r.available, reserved, new Money(n), SEED003);
        if (a.allowed) reserved = reserved.plus(n);
      }
      if (reserved.gt(0)) expect(r.usage.plus(reserved).lte(r.available.times('1.05'))).toBe(true);
    }), { numRuns: 150 });
  });
});
