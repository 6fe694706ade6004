import { z } from 'zod';

/**
 * Validation of CloudEvents 1.0 envelopes and the built-in types' data. Pure: raw JSON in, a
 * normalised event or a reason naming the field out.
 */

// RFC 3339: date, 'T' (or 't' / space is not allowed here), time, optional fraction, Z or ±hh:mm.
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-](\d{2}):(\d{2}))$/;

export function parseRfc3339(s: string): Date | undefined {
  const m = RFC3339.exec(s);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, se, , , oh, om] = m;
  const month = Number(mo), day = Number(d), hour = Number(h), minute = Number(mi), second = Number(se);
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 60) return undefined;
  if (oh !== undefined && (Number(oh) > 23 || Number(om) > 59)) return undefined;
  const dim = new Date(Date.UTC(Number(y), month, 0)).getUTCDate();
  if (day < 1 || day > dim) return undefined;
  const t = Date.parse(second === 60 ? s.replace(/:60(?=[.Zz+-])/, ':59') : s);
  return Number.isNaN(t) ? undefined : new Date(t);
}

const nonEmpty = z.string().min(1, 'must be a non-empty string');
const optText = z.string().max(512, 'must be at most 512 characters').optional();
const tokens = z.number({ error: 'must be a non-negative integer' }).int('must be a non-negative integer').min(0, 'must be a non-negative integer').max(Number.MAX_SAFE_INTEGER);
const decimalString = z
  .union([z.string(), z.number()])
  .transform((v) => (typeof v === 'number' ? String(v) : v.trim()))
  .refine((v) => /^\d+(\.\d+)?([eE][+-]?\d+)?$/.test(v), 'must be a non-negative decimal number (as a string, e.g. "0.0123")');

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
  .loose()
  .superRefine((d, ctx) => {
    if (d.reasoning_tokens !== undefined && d.reasoning_tokens > d.output_tokens) {
      ctx.addIssue({ code: 'custom', path: ['reasoning_tokens'], message: 'must not exceed output_tokens (output_tokens includes reasoning tokens)' });
    }
    const split = (d.cache_write_5m_tokens ?? 0) + (d.cache_write_1h_tokens ?? 0);
    if (
      d.cache_write_tokens !== undefined &&
      (d.cache_write_5m_tokens !== undefined || d.cache_write_1h_tokens !== undefined) &&
      split !== d.cache_write_tokens
    ) {
      ctx.addIssue({ code: 'custom', path: ['cache_write_tokens'], message: 'must equal cache_write_5m_tokens + cache_write_1h_tokens when those are given' });
    }
  });
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
    traffic_bytes_total: z
      .union([tokens, z.string().regex(/^\d+$/, 'must be a non-negative integer')])
      .transform((v) => String(v))
      .optional(),
    concurrent_users: tokens.optional(),
    active_rooms: tokens.optional(),
  })
  .loose();

export const BUILT_IN_DATA: Record<string, z.ZodType> = {
  'llm.usage': llmUsageData,
  'media.track.started': mediaTrackData,
  'media.track.ended': mediaTrackData,
  'resource.snapshot': resourceSnapshotData,
};

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
    id: typeof raw?.id === 'string' ? raw.id : undefined,
    source: typeof raw?.source === 'string' ? raw.source : undefined,
    error: `${param} ${message}`,
    param,
  };
}

const MAX_ID = 512;

/** Validates one CloudEvent. Errors name the field as `id`, `time`, `data.input_tokens`, … */
export function validateEvent(raw: unknown): Validation {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return fail(undefined, 'event', 'must be a JSON object');
  const e = raw as Record<string, unknown>;
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
  if (!('data' in e) || e.data === undefined) return fail(e, 'data', 'is required');
  if (e.datacontenttype !== undefined && typeof e.datacontenttype !== 'string') return fail(e, 'datacontenttype', 'must be a string');
  const type = e.type as string;
  let data = e.data as Record<string, unknown>;
  const schema = BUILT_IN_DATA[type];
  if (schema) {
    if (data === null || typeof data !== 'object' || Array.isArray(data)) return fail(e, 'data', `must be an object for ${type} events`);
    const r = schema.safeParse(data);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      const field = ['data', ...issue.path.map(String)].join('.');
      const msg = issue.code === 'invalid_type' && issue.input === undefined ? 'is required' : issue.message;
      return fail(e, field, msg);
    }
    data = r.data as Record<string, unknown>;
  }
  return {
    ok: true,
    event: { id: e.id as string, source: e.source as string, type, subject: (e.subject as string | undefined) ?? null, time, data },
  };
}
