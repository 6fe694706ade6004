import { z } from 'zod';
import { isValidZone } from '../shared/time.ts';

/** zod request and response schemas of the quotas routes (routes.ts). */

export const decimal = z.union([z.string(), z.number()]).transform((v) => String(v)).refine((v) => /^\d+(\.\d+)?$/.test(v), 'must be a non-negative decimal');
const fraction = z.union([z.string(), z.number()]).transform((v) => String(v)).refine((v) => /^\d+(\.\d+)?$/.test(v) && Number(v) > 0, 'must be a positive decimal fraction (0.9 = 90 %)');
export const tz = z.string().refine(isValidZone, 'must be an IANA time zone such as Asia/Seoul');
export const ident = z.string().min(1).max(512);
export const period = z.enum(['day', 'week', 'month']);
export const level = z.enum(['ok', 'warning', 'critical', 'blocked']);
export const filter = z.object({ provider: ident.optional(), model: ident.optional(), project: ident.optional(), feature: ident.optional() }).strict();
export const thresholds = z
  .object({ warning: fraction.default('0.9'), critical: fraction.default('0.95'), block: fraction.default('1') })
  .strict()
  .refine((t) => Number(t.warning) <= Number(t.critical) && Number(t.critical) <= Number(t.block), 'thresholds must satisfy warning ≤ critical ≤ block');
export const rfc3339 = z.string().datetime({ offset: true }).transform((s) => new Date(s));

export const entitlementOut = z.object({
  id: z.string(),
  subject: z.string().nullable(),
  team: z.string().nullable(),
  api_key: z.string().nullable(),
  meter: z.string(),
  filter,
  period,
  tz: z.string(),
  week_start: z.number(),
  thresholds: z.object({ warning: z.string(), critical: z.string(), block: z.string() }),
  purchase_url: z.string().nullable(),
  enabled: z.boolean(),
  level,
  created_at: z.string(),
  updated_at: z.string(),
});
export const grantOut = z.object({
  id: z.string(),
  entitlement_id: z.string(),
  kind: z.enum(['free', 'purchased', 'promotional']),
  amount: z.string(),
  priority: z.number(),
  effective_at: z.string(),
  expires_at: z.string().nullable(),
  recurring: period.nullable(),
  voided_at: z.string().nullable(),
  created_at: z.string(),
});
export const valueOut = z.object({
  id: z.string(),
  meter: z.string(),
  usage: z.string(),
  available: z.string(),
  balance: z.string(),
  reserved: z.string(),
  percent: z.string().nullable(),
  level,
  estimated_turns: z.number().nullable(),
  period_start: z.string(),
  resets_at: z.string(),
  purchase_url: z.string().nullable(),
  grants: z.array(z.object({ id: z.string(), kind: z.string(), amount: z.string(), used: z.string(), balance: z.string(), priority: z.number(), active: z.boolean() })),
});
export const checkOut = z.object({
  entitlement_id: z.string().nullable(),
  allowed: z.boolean(),
  level,
  balance: z.string().nullable(),
  remaining: z.string().nullable(),
  percent: z.string().nullable(),
  estimated_turns: z.number().nullable(),
  resets_at: z.string().nullable(),
  purchase_url: z.string().nullable(),
});
export const targetShape = { subject: ident.optional(), team: ident.optional(), api_key: ident.optional(), meter: ident.default('llm_tokens') };
export const idParam = z.object({ id: z.string() });
