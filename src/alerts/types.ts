import { z } from 'zod';

/** What a rule listens to (DESIGN.md "Alerts"). */
export const RULE_TYPES = ['entitlement.level', 'budget.amount', 'forecast.exceeds', 'anomaly', 'collector.failure', 'reconciliation.mismatch'] as const;
export type RuleType = (typeof RULE_TYPES)[number];

export const LEVELS = ['warning', 'critical', 'blocked'] as const;
export type AlertLevel = (typeof LEVELS)[number];

const decimalString = z
  .union([z.string(), z.number()])
  .transform((v) => String(v))
  .refine((v) => /^\d+(\.\d+)?$/.test(v) && Number(v) > 0, 'must be a positive decimal (a string such as "100.00")');

export const emailChannel = z.object({ type: z.literal('email'), to: z.array(z.string().email()).min(1).max(50) }).strict();
export const webhookChannel = z
  .object({
    type: z.literal('webhook'),
    url: z.string().url(),
    /** HMAC key for x-tollgate-signature; generated (and shown once) when omitted. */
    secret: z.string().min(8).max(256).optional(),
  })
  .strict();
export const inAppChannel = z.object({ type: z.literal('in_app') }).strict();
export const channelSchema = z.discriminatedUnion('type', [emailChannel, webhookChannel, inAppChannel]);
export type ChannelInput = z.infer<typeof channelSchema>;
export type Channel = { type: 'email'; to: string[] } | { type: 'webhook'; url: string; secret: string } | { type: 'in_app' };

/** Filters narrow which entitlements / events / signals a rule looks at; every field is optional. */
export const filterSchema = z
  .object({
    subject: z.string().min(1).optional(),
    team: z.string().min(1).optional(),
    api_key: z.string().min(1).optional(),
    project: z.string().min(1).optional(),
    provider: z.string().min(1).optional(),
    model: z.string().min(1).optional(),
    feature: z.string().min(1).optional(),
    meter: z.string().min(1).optional(),
    entitlement_id: z.string().min(1).optional(),
    collector: z.string().min(1).optional(),
    measure: z.string().min(1).optional(),
    min_score: z.number().optional(),
  })
  .strict();
export type RuleFilter = z.infer<typeof filterSchema>;

export const levelCondition = z.object({ levels: z.array(z.enum(LEVELS)).min(1).default(['warning', 'critical', 'blocked']) }).strict();
export const budgetCondition = z
  .object({
    meter: z.string().min(1),
    amount: decimalString,
    period: z.enum(['day', 'week', 'month']),
    /** Fractions of `amount` that each fire once per period (default [1]: the amount itself). */
    thresholds: z.array(z.number().gt(0).max(10)).min(1).max(10).optional(),
    tz: z.string().optional(),
  })
  .strict();
export const forecastCondition = z
  .object({
    /** Budget form (with amount): project the meter's total. Without: project each matching entitlement to its block threshold. */
    meter: z.string().min(1).optional(),
    amount: decimalString.optional(),
    period: z.enum(['day', 'week', 'month']).optional(),
    tz: z.string().optional(),
    /** Days of recent daily usage the rate is taken from (default 7). */
    lookback_days: z.number().int().min(1).max(60).optional(),
  })
  .strict()
  .refine((c) => !c.amount || (c.meter && c.period), 'a budget forecast needs meter, amount and period');

export const ruleInput = z
  .object({
    name: z.string().min(1).max(200),
    on: z.enum(RULE_TYPES),
    filter: filterSchema.optional(),
    condition: z.record(z.string(), z.unknown()).optional(),
    channels: z.array(channelSchema).min(1).max(20),
    dedup_window_s: z.number().int().min(0).max(366 * 86400).optional(),
    throttle_s: z.number().int().min(0).max(366 * 86400).nullable().optional(),
    enabled: z.boolean().optional(),
  })
  .strict();
export type RuleInput = z.infer<typeof ruleInput>;

export const rulePatch = ruleInput.partial().strict();
export type RulePatch = z.infer<typeof rulePatch>;

export type LevelCondition = z.infer<typeof levelCondition>;
export type BudgetCondition = z.infer<typeof budgetCondition>;
export type ForecastCondition = z.infer<typeof forecastCondition>;

export interface Rule {
  id: string;
  name: string;
  on: RuleType;
  filter: RuleFilter;
  condition: Record<string, unknown>;
  channels: Channel[];
  /** As set (null: the type's default). */
  dedup_window_s: number | null;
  throttle_s: number | null;
  enabled: boolean;
  created_at: string;
  updated_at: string;
}

/** What one evaluation decided should fire (before dedup and throttle). */
export interface Candidate {
  rule: Rule;
  subject: string | null;
  team: string | null;
  level: string | null;
  /** The level part of the dedup key when it is not `level` (a budget's "80%", a collector's name). */
  key_level?: string;
  /** The dedup period: an entitlement's period start, a budget's period, an anomaly's window, … */
  period: string;
  /** Decimal strings. */
  value: string | null;
  threshold: string | null;
  occurred_at: string;
  /** Everything else the channels show (meter, percent, resets_at, purchase_url, projected_at, …). */
  details: Record<string, unknown>;
  /** A one-line human summary (e-mail subject, notification title). */
  title: string;
}

export interface Firing {
  id: string;
  rule_id: string;
  rule_name: string;
  type: RuleType;
  subject: string | null;
  team: string | null;
  level: string | null;
  period: string | null;
  value: string | null;
  threshold: string | null;
  occurred_at: string;
  created_at: string;
  test: boolean;
  title: string;
  details: Record<string, unknown>;
}

/**
 * The alerts domain's port onto entitlements (the quotas domain). The composition root adapts the
 * quotas service to it; tests pass their own. Decimal strings throughout.
 */
export interface EntitlementSnapshot {
  id: string;
  meter: string;
  subject: string | null;
  team: string | null;
  api_key: string | null;
  usage: string;
  available: string;
  balance: string;
  percent: string;
  level: 'ok' | AlertLevel;
  /** The block threshold as a fraction of available (1.05 in seed 003). */
  block_threshold: string;
  period_start: string;
  resets_at: string | null;
  purchase_url: string | null;
}

export interface EntitlementSource {
  /** Every enabled entitlement, as of now. */
  list(): Promise<EntitlementSnapshot[]>;
  value(id: string): Promise<EntitlementSnapshot | null>;
  /** Usage per day (in the entitlement's zone) over [from, to), oldest first; for forecasts. */
  dailyUsage(id: string, from: Date, to: Date): Promise<Array<{ day: string; usage: string }>>;
}
