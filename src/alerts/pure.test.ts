import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { projectCrossing } from './forecast.ts';
import { isPrivateAddress, parseAllowList, refusal } from './netguard.ts';
import { groupDigits, percentText, signatureHeader, verifySignature } from './message.ts';
import { dedupKey, effectiveDedupWindow } from './evaluate.ts';

const DAY = 86_400_000;
const start = new Date('2026-01-01T00:00:00Z');
const end = new Date('2026-02-01T00:00:00Z');

describe('projectCrossing', () => {
  it('a steady rate crosses when the arithmetic says, and never after the period ends', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 1, max: 20_000 }), fc.integer({ min: 2, max: 29 }), (usage, rate, day) => {
        const now = new Date(start.getTime() + day * DAY);
        const p = projectCrossing({ usage: String(usage), limit: '105000', recentDaily: Array(7).fill(String(rate)), periodStart: start, periodEnd: end, now });
        if (usage >= 105000) return p.crossed && p.crosses_at === null;
        const at = now.getTime() + ((105000 - usage) / rate) * DAY;
        if (at < end.getTime()) return p.crosses_at !== null && Math.abs(p.crosses_at.getTime() - at) <= 1;
        return p.crosses_at === null;
      }),
    );
  });
  it('zero usage never crosses', () => {
    expect(projectCrossing({ usage: '0', limit: '1', recentDaily: ['0', '0'], periodStart: start, periodEnd: end, now: new Date(start.getTime() + 3 * DAY) }).crosses_at).toBeNull();
  });
});

describe('netguard', () => {
  it('knows private, loopback, link-local and mapped addresses', () => {
    for (const ip of ['10.0.0.1', '127.0.0.1', '169.254.169.254', '172.16.5.4', '192.168.1.1', '100.64.0.1', '0.0.0.0', '::1', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '::']) expect(isPrivateAddress(ip), ip).toBe(true);
    for (const ip of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '172.32.0.1']) expect(isPrivateAddress(ip), ip).toBe(false);
  });
  it('the allow list takes hosts and CIDRs', () => {
    const allow = parseAllowList('127.0.0.1, 10.1.0.0/16, hooks.internal');
    expect(refusal('127.0.0.1', '127.0.0.1', allow)).toBeNull();
    expect(refusal('x', '10.1.2.3', allow)).toBeNull();
    expect(refusal('hooks.internal', '10.9.9.9', allow)).toBeNull();
    expect(refusal('evil.example', '10.9.9.9', allow)).toMatch(/evil\.example \(10\.9\.9\.9\) is a private/);
    expect(() => parseAllowList('10.0.0.0/99')).toThrow(/not a valid CIDR/);
  });
});

describe('messages', () => {
  it('formats decimals without floats and signs bodies', () => {
    expect(groupDigits('1234567.891')).toBe('1,234,567.891');
    expect(percentText('0.905')).toBe('90.5 %');
    const h = signatureHeader('s3cret', '{"a":1}', 1_700_000_000);
    expect(verifySignature('s3cret', '{"a":1}', h, 1_700_000_100)).toBe(true);
    expect(verifySignature('s3cret', '{"a":2}', h, 1_700_000_100)).toBe(false);
    expect(verifySignature('s3cret', '{"a":1}', h, 1_700_009_000)).toBe(false);
  });
  it('dedup keys and windows', () => {
    expect(dedupKey({ subject: 'u', level: 'warning', period: 'p' })).toBe('u|warning|p');
    expect(effectiveDedupWindow({ on: 'collector.failure', dedup_window_s: 10 })).toBe(3600);
    expect(effectiveDedupWindow({ on: 'entitlement.level', dedup_window_s: null })).toBe(86400);
  });
});
