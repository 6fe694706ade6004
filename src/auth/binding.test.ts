import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ApiError } from '../shared/errors.ts';
import { bindWrite, bindWriteOrThrow, canReadRow, requireUnbound, scopeRead, scopeReadOne } from './binding.ts';

const none = { subject: null, team: null, project: null };
const team = { ...none, team: 'ml' };
const subj = { ...none, subject: 'u1' };
const proj = { ...none, project: 'p1' };

const refusal = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError);
    const a = e as ApiError;
    return { type: a.type, code: a.code, param: a.param };
  }
  return undefined;
};

describe('scopeRead', () => {
  it.each([
    ['unbound key: filters unchanged', none, { model: ['m'] }, {}, { model: ['m'] }],
    ['team key, no filter: its team becomes the filter', team, {}, {}, { team: ['ml'] }],
    ['team key asking for its own team', team, { team: ['ml'] }, {}, { team: ['ml'] }],
    ['subject key keeps other filters', subj, { model: ['a', 'b'] }, {}, { model: ['a', 'b'], subject: ['u1'] }],
    ['project key on a read that can filter project', proj, {}, { dims: ['project'] }, { project: ['p1'] }],
  ] as const)('%s', (_n, p, filters, opts, want) => {
    expect(scopeRead(p, filters as any, opts)).toEqual(want);
  });

  it.each([
    ['team key asking for another team', team, { team: ['other'] }, {}, 'filter[team]'],
    ['team key asking for its team and another', team, { team: ['ml', 'x'] }, {}, 'filter[team]'],
    ['subject key on a read without subjects', subj, {}, { dims: ['team'] }, undefined],
    ['custom param naming', subj, { subject: ['u2'] }, { param: () => 'subject' }, 'subject'],
  ] as const)('refuses: %s', (_n, p, filters, opts, param) => {
    expect(refusal(() => scopeRead(p, filters as any, opts as any))).toEqual({ type: 'permission_denied', code: 'BOUND_KEY', param });
  });

  it('never widens: every bound field ends as exactly [bound] (property)', () => {
    const v = fc.constantFrom('a', 'b', 'c');
    fc.assert(
      fc.property(fc.record({ subject: fc.option(v), team: fc.option(v), project: fc.option(v) }), fc.dictionary(fc.constantFrom('subject', 'team', 'project', 'model'), fc.array(v, { minLength: 1, maxLength: 3 })), (p, f) => {
        let out: Record<string, string[]>;
        try {
          out = scopeRead(p, f);
        } catch {
          return; // refused: nothing read
        }
        for (const k of ['subject', 'team', 'project'] as const) if (p[k]) expect(out[k]).toEqual([p[k]]);
      }),
    );
  });
});

describe('scopeReadOne', () => {
  it.each([
    [none, undefined, undefined],
    [none, 'u2', 'u2'],
    [subj, undefined, 'u1'],
    [subj, 'u1', 'u1'],
  ] as const)('%o asking %s reads %s', (p, asked, want) => expect(scopeReadOne(p, 'subject', asked)).toBe(want));
  it('refuses another value', () => expect(refusal(() => scopeReadOne(subj, 'subject', 'u2'))).toMatchObject({ code: 'BOUND_KEY', param: 'subject' }));
});

describe('bindWrite', () => {
  it.each([
    ['unbound: row as written', none, { team: 'x', subject: null }, { ok: true, row: { team: 'x', subject: null }, stamped: [] }],
    ['stamps a missing team', team, { team: null, subject: 's' }, { ok: true, row: { team: 'ml', subject: 's' }, stamped: ['team'] }],
    ['stamps undefined too', subj, { subject: undefined }, { ok: true, row: { subject: 'u1' }, stamped: ['subject'] }],
    ['same value passes', team, { team: 'ml' }, { ok: true, row: { team: 'ml' }, stamped: [] }],
    ['a different value is refused', team, { team: 'other' }, { ok: false, field: 'team', bound: 'ml' }],
  ] as const)('%s', (_n, p, row, want) => expect(bindWrite(p, row as any)).toEqual(want));

  it('only the fields the row carries', () => {
    expect(bindWrite(proj, { subject: null }, ['subject'])).toEqual({ ok: true, row: { subject: null }, stamped: [] });
  });
  it('does not change the row it is given', () => {
    const row = { team: null };
    bindWrite(team, row);
    expect(row.team).toBeNull();
  });
  it('OrThrow names the field', () => {
    expect(refusal(() => bindWriteOrThrow(team, { team: 'x' }))).toEqual({ type: 'permission_denied', code: 'BOUND_KEY', param: 'team' });
    expect(bindWriteOrThrow(team, { team: undefined })).toEqual({ team: 'ml' });
  });
});

describe('canReadRow / requireUnbound', () => {
  it.each([
    [none, { team: 'x' }, true],
    [team, { team: 'ml', subject: 'a' }, true],
    [team, { team: 'x' }, false],
    [team, {}, false],
    [proj, { project: 'p1' }, true],
  ] as const)('%o reads %o: %s', (p, row, want) => expect(canReadRow(p, row)).toBe(want));
  it('requireUnbound refuses any binding', () => {
    expect(refusal(() => requireUnbound(none, 'x'))).toBeUndefined();
    for (const p of [team, subj, proj]) expect(refusal(() => requireUnbound(p, 'no'))).toMatchObject({ code: 'BOUND_KEY' });
  });
});
