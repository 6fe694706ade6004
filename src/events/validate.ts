import { z } from 'zod';
import { Ajv } from 'ajv';
import { SUPPORTED_RANGE, inSupportedRange, parseRfc3339 } from '../shared/time.ts';
import { findUnstorable, MAX_DATA_DEPTH, storableString } from '../shared/strings.ts';
import { Money } from '../shared/money.ts';

/**
 * Validation of CloudEvents 1.0 envelopes and the built-in types' data. Pure: raw JSON in, a
 * normalised event or a reason naming the field out.
 */

const nonEmpty = z.string().min(1, 'must be a non-empty string');
const optText = z.string().max(512, 'must be at most 512 characters').optional();
const count = z.number({ error: 'must be a non-negative integer' }).int('must be a non-negative integer').min(0, 'must be a non-negative integer').max(Number.MAX_SAFE_INTEGER);
/**
 * Per event and token class (docs/foundation.md): far above any real request (10^7 is a large
 * context today), and low enough that the rollups' numeric sums and JS numbers stay sane.
 */
export const MAX_TOKENS_PER_EVENT = 1_000_000_000_000;
const tokens = count.max(MAX_TOKENS_PER_EVENT, `must be at most ${MAX_TOKENS_PER_EVENT} (10^12 tokens per event and token class)`);
// Cost arrives as a decimal string (exact) or a JSON number (normalised to its shortest decimal form).
const DECIMAL_MSG = 'must be a non-negative decimal number (as a string, e.g. "0.0123")';
const decimalString = z.union([z.string().regex(/^\d+(\.\d+)?([eE][+-]?\d+)?$/, DECIMAL_MSG), z.number().min(0, DECIMAL_MSG)], { error: DECIMAL_MSG });

export const llmUsageData = z
  .object({
    provider: nonEmpty.max(128),
    model: nonEmpty.max(256),
    input_tokens: tokens,
    output_tokens: tokens,
    cache_read_tokens: tokens.optional(),
    cache_write_tokens: tokens.optional(),
    cache_write_5m_tokens: tokens.optional(),
    cache_write_1h_tokens: tokens.optional(),
    reasoning_tokens: tokens.optional(),
    // How many requests the event stands for (a collector's bucket); absent = 1. Rollups count it.
    requests: count.max(MAX_TOKENS_PER_EVENT, `must be at most ${MAX_TOKENS_PER_EVENT} (requests per event)`).optional(),
    region: optText,
    team: optText,
    project: optText,
    api_key: optText,
    feature: optText,
    latency_ms: z.number().min(0, 'must be ≥ 0').optional(),
    ttft_ms: z.number().min(0, 'must be ≥ 0').optional(),
    status: z.union([z.string().max(64), z.number().int()]).optional(),
    cost: decimalString.optional(),
    estimated: z.boolean().optional(),
  })
  .loose();

/**
 * A reported cost: at most 10^12 USD per event with at most 30 decimal places. Beyond that the
 * database's numeric refuses it ('1e200000' failed its whole batch with 500) and no bill is.
 */
export const MAX_COST_PER_EVENT = 1_000_000_000_000;
function costRule(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  let d: Money;
  try {
    d = new Money(v as string | number);
  } catch {
    return DECIMAL_MSG;
  }
  if (!d.isFinite() || d.gt(MAX_COST_PER_EVENT)) return `must be at most ${MAX_COST_PER_EVENT} (USD per event)`;
  if (d.decimalPlaces() > 30) return 'must have at most 30 decimal places';
  return undefined;
}

/** The cross-field rules of llm.usage, kept out of the schema so both validators share them. */
function llmUsageRule(d: Record<string, unknown>): { param: string; message: string } | undefined {
  const costBroken = costRule(d.cost);
  if (costBroken) return { param: 'data.cost', message: costBroken };
  const out = d.output_tokens as number;
  if (typeof d.reasoning_tokens === 'number' && d.reasoning_tokens > out) {
    return { param: 'data.reasoning_tokens', message: 'must not exceed output_tokens (output_tokens includes reasoning tokens)' };
  }
  const w5 = d.cache_write_5m_tokens as number | undefined;
  const w1 = d.cache_write_1h_tokens as number | undefined;
  if (typeof d.cache_write_tokens === 'number' && (w5 !== undefined || w1 !== undefined) && (w5 ?? 0) + (w1 ?? 0) !== d.cache_write_tokens) {
    return { param: 'data.cache_write_tokens', message: 'must equal cache_write_5m_tokens + cache_write_1h_tokens when those are given' };
  }
  return undefined;
}
export type LlmUsageData = z.infer<typeof llmUsageData>;

const mediaTrackData = z
  .object({
    room: nonEmpty.max(512),
    participant: nonEmpty.max(512),
    track: nonEmpty.max(512),
    kind: z.enum(['video', 'screen_share', 'audio'], { error: 'must be one of video, screen_share, audio' }),
  })
  .loose();

const gauge = z.number().min(0, 'must be ≥ 0').optional();
const resourceSnapshotData = z
  .object({
    host: nonEmpty.max(512),
    cpu_percent: gauge,
    memory_percent: gauge,
    memory_mb: gauge,
    // A counter may outgrow 2^53: an integer string is accepted too.
    traffic_bytes_total: z.union([count, z.string().regex(/^\d{1,30}$/, 'must be a non-negative integer of at most 30 digits')], { error: 'must be a non-negative integer (at most 30 digits)' }).optional(),
    concurrent_users: count.optional(),
    active_rooms: count.optional(),
  })
  .loose();

export const BUILT_IN_DATA: Record<string, z.ZodType> = {
  'llm.usage': llmUsageData,
  'media.track.started': mediaTrackData,
  'media.track.ended': mediaTrackData,
  'resource.snapshot': resourceSnapshotData,
};

const RULES: Record<string, (d: Record<string, unknown>) => { param: string; message: string } | undefined> = {
  'llm.usage': llmUsageRule,
};

/**
 * Ingest validates every event, so the hot path is an ajv validator compiled from the zod schema
 * (one source of truth, ~10x faster); zod runs only for events that fail, to word the reason.
 */
const ajv = new Ajv({ allErrors: false, strict: false });
export const FAST: Record<string, (d: unknown) => boolean> = Object.fromEntries(
  Object.entries(BUILT_IN_DATA).map(([type, schema]) => [type, ajv.compile(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-7' }))]),
);

export interface ValidEvent {
  id: string;
  source: string;
  type: string;
  subject: string | null;
  time: Date;
  data: Record<string, unknown>;
}

export type Validation = { ok: true; event: ValidEvent } | { ok: false; id?: string; source?: string; error: string; param: string };

function fail(raw: Record<string, unknown> | undefined, param: string, message: string): Validation {
  return {
    ok: false,
    id: typeof raw?.id === 'string' ? storableString(raw.id) : undefined,
    source: typeof raw?.source === 'string' ? storableString(raw.source) : undefined,
    error: `${param} ${message}`,
    param,
  };
}

const MAX_ID = 512;

/**
 * Strings that become parts of a unique index key (the events' (source, id), the rollups'
 * dimensions, media and host keys) are bounded in UTF-8 bytes, not only in characters: PostgreSQL's
 * btree refuses an entry over ~2.7 kB, and one valid event with eight 512-character Hangul
 * dimensions made every later rollup fold — and so every report — fail (issue 13). 256 bytes a
 * dimension keeps the widest rollup key (eight dimensions) near 2 kB.
 */
export const MAX_KEY_BYTES = 256;
const MAX_ID_BYTES = 512;
const KEY_FIELDS: Record<string, readonly string[]> = {
  'llm.usage': ['provider', 'model', 'region', 'team', 'project', 'api_key', 'feature'],
  'media.track.started': ['room', 'participant', 'track'],
  'media.track.ended': ['room', 'participant', 'track'],
  'resource.snapshot': ['host'],
};
// Below this many UTF-16 units no string can pass the byte limit (3 bytes a unit at most).
const tooManyBytes = (s: string, limit: number) => s.length * 3 > limit && Buffer.byteLength(s, 'utf8') > limit;

function keyTooWide(e: Record<string, unknown>, type: string, data: Record<string, unknown>): { param: string; message: string } | undefined {
  for (const f of ['id', 'source'] as const) {
    if (tooManyBytes(e[f] as string, MAX_ID_BYTES)) return { param: f, message: `must be at most ${MAX_ID_BYTES} bytes in UTF-8` };
  }
  if (typeof e.subject === 'string' && tooManyBytes(e.subject, MAX_KEY_BYTES)) return { param: 'subject', message: `must be at most ${MAX_KEY_BYTES} bytes in UTF-8` };
  for (const f of KEY_FIELDS[type] ?? []) {
    const v = data[f];
    if (typeof v === 'string' && tooManyBytes(v, MAX_KEY_BYTES)) return { param: `data.${f}`, message: `must be at most ${MAX_KEY_BYTES} bytes in UTF-8 (it is part of a report key)` };
  }
  return undefined;
}

/** Validates one CloudEvent. Errors name the field as `id`, `time`, `data.input_tokens`, … */
export function validateEvent(raw: unknown): Validation {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return fail(undefined, 'event', 'must be a JSON object');
  const e = raw as Record<string, unknown>;
  // One rule for every string of the event, envelope and data, keys and values, at any depth;
  // and a nesting limit on data (the envelope is depth 0, data depth 1).
  const bad = findUnstorable(e, '', MAX_DATA_DEPTH + 1, 'event');
  if (bad) {
    const msg = bad.message.startsWith('nests') ? `nests too deeply: an event's data may nest objects and arrays at most ${MAX_DATA_DEPTH} levels` : bad.message;
    return fail(e, bad.param, msg);
  }
  if (e.specversion !== '1.0') return fail(e, 'specversion', 'must be "1.0"');
  for (const f of ['id', 'source', 'type'] as const) {
    const v = e[f];
    if (typeof v !== 'string' || v.length === 0) return fail(e, f, 'is required and must be a non-empty string');
    if (v.length > MAX_ID) return fail(e, f, `must be at most ${MAX_ID} characters`);
  }
  if (e.subject !== undefined && e.subject !== null && (typeof e.subject !== 'string' || e.subject.length > MAX_ID)) {
    return fail(e, 'subject', `must be a string of at most ${MAX_ID} characters`);
  }
  if (typeof e.time !== 'string') return fail(e, 'time', 'is required and must be an RFC 3339 timestamp');
  const time = parseRfc3339(e.time);
  if (!time) return fail(e, 'time', `must be an RFC 3339 timestamp such as 2026-01-09T12:00:00Z (got ${JSON.stringify(e.time).slice(0, 64)})`);
  if (!inSupportedRange(time)) return fail(e, 'time', `must be within the supported range ${SUPPORTED_RANGE} (got ${time.toISOString()})`);
  if (!('data' in e) || e.data === undefined) return fail(e, 'data', 'is required');
  if (e.datacontenttype !== undefined && typeof e.datacontenttype !== 'string') return fail(e, 'datacontenttype', 'must be a string');
  const type = e.type as string;
  let data = e.data as Record<string, unknown>;
  const schema = BUILT_IN_DATA[type];
  if (schema) {
    if (data === null || typeof data !== 'object' || Array.isArray(data)) return fail(e, 'data', `must be an object for ${type} events`);
    if (!FAST[type]!(data)) {
      const r = schema.safeParse(data);
      if (!r.success) {
        const issue = r.error.issues[0]!;
        const field = ['data', ...issue.path.map(String)].join('.');
        const present = issue.path.reduce<unknown>((o, k) => (o !== null && typeof o === 'object' ? (o as Record<PropertyKey, unknown>)[k as PropertyKey] : undefined), data) !== undefined;
        const msg = issue.code === 'invalid_type' && !present ? 'is required' : issue.message;
        return fail(e, field, msg);
      }
    }
    const broken = RULES[type]?.(data);
    if (broken) return fail(e, broken.param, broken.message);
  }
  const wide = keyTooWide(e, type, data);
  if (wide) return fail(e, wide.param, wide.message);
  return {
    ok: true,
    event: { id: e.id as string, source: e.source as string, type, subject: (e.subject as string | undefined) ?? null, time, data },
  };
}
