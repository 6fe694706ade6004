import { z } from 'zod';
import { Ajv } from 'ajv';
import { SUPPORTED_RANGE, inSupportedRange } from '../shared/time.ts';
import { Money } from '../shared/money.ts';

/**
 * Validation of CloudEvents 1.0 envelopes and the built-in types' data. Pure: raw JSON in, a
 * normalised event or a reason naming the field out.
 */

// RFC 3339: date, 'T' (or 't' / space is not allowed here), time, optional fraction, Z or ±hh:mm.
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-](\d{2}):(\d{2}))$/;

export function parseRfc3339(s: string): Date | undefined {
  const m = RFC3339.exec(s);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, se, frac, z, oh, om] = m;
  const year = Number(y), month = Number(mo), day = Number(d), hour = Number(h), minute = Number(mi);
  let second = Number(se);
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 60) return undefined;
  if (oh !== undefined && (Number(oh) > 23 || Number(om) > 59)) return undefined;
  const dim = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day < 1 || day > dim) return undefined;
  if (second === 60) second = 59; // a leap second is held at :59, as JavaScript time has none
  // Sub-millisecond digits are dropped: JavaScript and the stored epoch-ms carry milliseconds.
  const ms = frac ? Math.floor(Number(frac.slice(1, 4).padEnd(3, '0'))) : 0;
  const offsetMin = z === 'Z' || z === 'z' ? 0 : (z![0] === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om));
  const t = Date.UTC(year, month - 1, day, hour, minute, second, ms) - offsetMin * 60_000;
  if (year < 100) return new Date(new Date(t).setUTCFullYear(year)); // Date.UTC maps 0–99 to 19xx
  return new Date(t);
}

// --- Strings and nesting: the one rule for every string Tollgate stores -----------------------

// In a /u regex a well-formed surrogate pair is one code point: \p{Cs} matches only unpaired halves.
const UNSTORABLE = /[\u0000\p{Cs}]/u;
const UNSTORABLE_ALL = /[\u0000\p{Cs}]/gu;

/**
 * Why a string cannot be stored, or undefined. PostgreSQL's text and jsonb refuse NUL (U+0000)
 * and unpaired UTF-16 surrogates (no UTF-8 form): such a string failed its whole batch with 500
 * (issue 13). Every other code point, any length, is fine.
 */
export function unstorableReason(s: string): string | undefined {
  if (!UNSTORABLE.test(s)) return undefined;
  if (s.includes('\u0000')) return 'contains a NUL character (U+0000), which cannot be stored';
  return 'contains an unpaired UTF-16 surrogate (not valid Unicode), which cannot be stored';
}

/** How deep `data` may nest objects and arrays (docs/foundation.md: input limits). */
export const MAX_DATA_DEPTH = 32;

export interface Unstorable {
  /** Where: `id`, `data.a.b`, `data.items.3`, or the object holding a bad key. */
  param: string;
  message: string;
}

/** A container being walked: its parent chain gives the path, built only when something fails. */
interface Frame {
  v: object;
  parent: Frame | undefined;
  key: string;
  depth: number;
}

function pathOf(f: Frame | undefined, root: string, key?: string): string {
  const parts: string[] = key === undefined ? [] : [key];
  for (let x = f; x && x.parent; x = x.parent) parts.push(x.key);
  parts.push(root);
  return parts.filter(Boolean).reverse().join('.');
}

const shownKey = (k: string) => JSON.stringify(k.length > 40 ? k.slice(0, 40) + '…' : k);

/**
 * The first string (value or object key, at any depth) that cannot be stored, or the first
 * container nested deeper than `maxDepth` (the root is depth 0). Iterative: a 100,000-deep value
 * cannot exhaust the stack here. `root` prefixes paths ('' for an event's envelope: `id`,
 * `data.model`); `label` names the root itself (a bad key at the top: `event`, `body`).
 */
export function findUnstorable(value: unknown, root: string, maxDepth: number, label = root || 'value'): Unstorable | undefined {
  if (typeof value === 'string') {
    const why = unstorableReason(value);
    return why ? { param: root || label, message: why } : undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  const stack: Frame[] = [{ v: value, parent: undefined, key: root, depth: 0 }];
  while (stack.length) {
    const f = stack.pop()!;
    if (f.depth > maxDepth) {
      return { param: pathOf(f, root), message: `nests objects and arrays deeper than ${maxDepth} levels` };
    }
    if (Array.isArray(f.v)) {
      const a = f.v as unknown[];
      for (let i = 0; i < a.length; i++) {
        const x = a[i];
        if (typeof x === 'string') {
          const why = unstorableReason(x);
          if (why) return { param: pathOf(f, root, String(i)), message: why };
        } else if (x !== null && typeof x === 'object') stack.push({ v: x, parent: f, key: String(i), depth: f.depth + 1 });
      }
    } else {
      const o = f.v as Record<string, unknown>;
      for (const k in o) {
        const kwhy = unstorableReason(k);
        if (kwhy) return { param: pathOf(f, root) || label, message: `has a key ${shownKey(k)} that ${kwhy}` };
        const x = o[k];
        if (typeof x === 'string') {
          const why = unstorableReason(x);
          if (why) return { param: pathOf(f, root, k), message: why };
        } else if (x !== null && typeof x === 'object') stack.push({ v: x, parent: f, key: k, depth: f.depth + 1 });
      }
    }
  }
  return undefined;
}

/** A string made storable: NUL and unpaired surrogates become U+FFFD (for reasons and kept rejects). */
export const storableString = (s: string): string => (UNSTORABLE.test(s) ? s.replace(UNSTORABLE_ALL, '\uFFFD') : s);

/**
 * A copy of any JSON value that PostgreSQL's jsonb takes: strings and keys made storable, nesting
 * below `maxDepth` replaced by a marker. For keeping rejected events, whatever they held.
 */
export function storableJson(value: unknown, maxDepth = MAX_DATA_DEPTH + 2): unknown {
  const copy = (v: unknown, depth: number): unknown => {
    if (typeof v === 'string') return storableString(v);
    if (v === null || typeof v !== 'object') return typeof v === 'number' && !Number.isFinite(v) ? null : v;
    if (depth >= maxDepth) return '[nested too deeply: not kept]';
    if (Array.isArray(v)) return v.map((x) => copy(x, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[storableString(k)] = copy(x, depth + 1);
    return out;
  };
  return copy(value, 0);
}

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
  return {
    ok: true,
    event: { id: e.id as string, source: e.source as string, type, subject: (e.subject as string | undefined) ?? null, time, data },
  };
}
