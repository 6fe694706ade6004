import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { ApiError, badRequest, notFound } from '../shared/errors.ts';
import type { AlertCtx } from './context.ts';
import { checkTarget } from './netguard.ts';
import { effectiveDedupWindow, parseCondition } from './evaluate.ts';
import { newId } from './firing.ts';
import * as store from './store.ts';
import { ruleInput, rulePatch, type Channel, type Rule, type RuleInput } from './types.ts';

/** Rules CRUD (validation, secrets shown once, masking) and the per-process rules cache. */

export type RuleOut = Omit<Rule, 'channels'> & { channels: Array<Record<string, unknown>>; effective_dedup_window_s: number };
export type RuleWritten = { rule: RuleOut; secrets: Record<number, string> };

/** A budget rule and the event types whose arrival can move its meter. */
export interface BudgetWatch {
  rule: Rule;
  types: (t: string) => boolean;
}

/** Event types, where "media.track.*" stands for every type under media.track. */
function typeMatcher(patterns: string[]): (t: string) => boolean {
  const exact = new Set(patterns.filter((p) => !p.endsWith('*')));
  const prefixes = patterns.filter((p) => p.endsWith('*')).map((p) => p.slice(0, -1));
  return (t) => exact.has(t) || prefixes.some((p) => t.startsWith(p));
}

function ruleOut(r: Rule): RuleOut {
  return {
    ...r,
    effective_dedup_window_s: effectiveDedupWindow(r),
    channels: r.channels.map((c) => (c.type === 'webhook' ? { type: 'webhook', url: c.url, secret: `${c.secret.slice(0, 6)}…` } : { ...c })),
  };
}

function zodMessage(e: z.ZodError, prefix: string): ApiError {
  const i = e.issues[0]!;
  const path = [prefix, ...i.path.map(String)].filter(Boolean).join('.');
  return badRequest('INVALID_FIELD', `${path ? `"${path}" ` : ''}${i.message}`, path || undefined);
}

function parseInput<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (!r.success) throw zodMessage(r.error, '');
  return r.data;
}

/** The channels as stored: webhook targets checked, secrets kept or generated (returned once by index). */
async function validateChannels(ctx: AlertCtx, input: RuleInput, existing?: Rule): Promise<{ channels: Channel[]; secrets: Record<number, string> }> {
  const secrets: Record<number, string> = {};
  const channels: Channel[] = [];
  for (let i = 0; i < input.channels.length; i++) {
    const c = input.channels[i]!;
    if (c.type === 'webhook') {
      const why = await checkTarget(c.url, ctx.allow);
      if (why) throw badRequest('WEBHOOK_TARGET_REFUSED', why, `channels.${i}.url`);
      const kept = existing?.channels.find((o): o is Extract<Channel, { type: 'webhook' }> => o.type === 'webhook' && o.url === c.url);
      const secret = c.secret ?? kept?.secret ?? 'whsec_' + randomBytes(24).toString('base64url');
      if (!c.secret && !kept) secrets[i] = secret;
      channels.push({ type: 'webhook', url: c.url, secret });
    } else if (c.type === 'email') {
      if (!ctx.mailer) throw badRequest('SMTP_NOT_CONFIGURED', 'e-mail channels need SMTP_URL (or alerts.smtp_url) to be set', `channels.${i}`);
      channels.push({ type: 'email', to: c.to });
    } else channels.push({ type: 'in_app' });
  }
  return { channels, secrets };
}

async function validateRule(ctx: AlertCtx, input: RuleInput, existing?: Rule): Promise<{ rule: Rule; secrets: Record<number, string> }> {
  let condition: Record<string, unknown>;
  try {
    condition = parseCondition(input.on, input.condition);
  } catch (e) {
    if (e instanceof z.ZodError) throw zodMessage(e, 'condition');
    throw e;
  }
  if ((input.on === 'budget.amount' || (input.on === 'forecast.exceeds' && condition.amount)) && ctx.meters) {
    const meter = String(condition.meter);
    if (!(await ctx.meters.eventTypes(meter))) throw badRequest('UNKNOWN_METER', `meter "${meter}" does not exist (GET /v1/meters lists them)`, 'condition.meter');
  }
  const { channels, secrets } = await validateChannels(ctx, input, existing);
  const now = ctx.clock.now().toISOString();
  const rule: Rule = {
    id: existing?.id ?? newId('rule_'),
    name: input.name,
    on: input.on,
    filter: input.filter ?? {},
    condition,
    channels,
    dedup_window_s: input.dedup_window_s ?? null,
    throttle_s: input.throttle_s ?? null,
    enabled: input.enabled ?? true,
    created_at: existing?.created_at ?? now,
    updated_at: now,
  };
  return { rule, secrets };
}

/** A patch over the stored rule: what is not given stays (a new `on` without `condition` takes that type's default). */
function merged(patch: z.infer<typeof rulePatch>, existing: Rule): RuleInput {
  return {
    name: patch.name ?? existing.name,
    on: patch.on ?? existing.on,
    filter: patch.filter ?? existing.filter,
    condition: patch.condition ?? (patch.on && patch.on !== existing.on ? undefined : existing.condition),
    channels: patch.channels ?? existing.channels,
    dedup_window_s: patch.dedup_window_s ?? existing.dedup_window_s ?? undefined,
    throttle_s: patch.throttle_s === undefined ? existing.throttle_s : patch.throttle_s,
    enabled: patch.enabled ?? existing.enabled,
  };
}

export interface RuleCache {
  /** The enabled rules (cached for `rules_cache_ms`; concurrent misses share one read). */
  rules(): Promise<Rule[]>;
  invalidate(): void;
  /** The budget rules of a fresh cache, undefined when the cache has lapsed. */
  freshBudgets(): BudgetWatch[] | undefined;
  /** The budget rules of the last read, fresh or not. */
  budgets(): BudgetWatch[] | undefined;
}

/** This process's changes invalidate the cache; other processes' show within `rules_cache_ms`. */
export function ruleCache(ctx: AlertCtx): RuleCache {
  let cache: { at: number; rules: Rule[]; budgets: BudgetWatch[] } | undefined;
  let loading: Promise<Rule[]> | undefined;
  const fresh = () => !!cache && performance.now() - cache.at < ctx.config.rules_cache_ms;
  async function load(): Promise<Rule[]> {
    try {
      const all = (await store.listRules(ctx.db)).filter((r) => r.enabled);
      const budgets: BudgetWatch[] = [];
      for (const r of all) {
        if (r.on !== 'budget.amount' || !ctx.meters) continue;
        const types = await ctx.meters.eventTypes(String(r.condition.meter)).catch(() => null);
        if (types) budgets.push({ rule: r, types: typeMatcher(types) });
      }
      cache = { at: performance.now(), rules: all, budgets };
      return all;
    } finally {
      loading = undefined;
    }
  }
  return {
    async rules() {
      if (fresh()) return cache!.rules;
      loading ??= load();
      return loading;
    },
    invalidate: () => void (cache = undefined),
    freshBudgets: () => (fresh() ? cache!.budgets : undefined),
    budgets: () => cache?.budgets,
  };
}

export interface RuleCrud {
  createRule(body: unknown): Promise<RuleWritten>;
  listRules(): Promise<RuleOut[]>;
  getRule(id: string): Promise<RuleOut>;
  updateRule(id: string, body: unknown): Promise<RuleWritten>;
  deleteRule(id: string): Promise<void>;
}

export function ruleCrud(ctx: AlertCtx, cache: RuleCache): RuleCrud {
  const { db } = ctx;
  return {
    async createRule(body) {
      const { rule, secrets } = await validateRule(ctx, parseInput(ruleInput, body));
      await store.insertRule(db, rule);
      cache.invalidate();
      return { rule: ruleOut(rule), secrets };
    },
    async listRules() {
      return (await store.listRules(db)).map(ruleOut);
    },
    async getRule(id) {
      const r = await store.getRule(db, id);
      if (!r) throw notFound(`alert rule ${id}`);
      return ruleOut(r);
    },
    async updateRule(id, body) {
      const patch = parseInput(rulePatch, body);
      const existing = await store.getRule(db, id);
      if (!existing) throw notFound(`alert rule ${id}`);
      const { rule, secrets } = await validateRule(ctx, merged(patch, existing), existing);
      await store.updateRule(db, rule);
      cache.invalidate();
      return { rule: ruleOut(rule), secrets };
    },
    async deleteRule(id) {
      if (!(await store.deleteRule(db, id))) throw notFound(`alert rule ${id}`);
      cache.invalidate();
    },
  };
}
