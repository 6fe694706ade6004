import { z } from 'zod';
import type { UsageParams } from '../rollups/service.ts';

/**
 * Meter definitions: validation, the built-in meters, and the SQL expressions a definition compiles
 * to. Paths are `$.a.b` into the event's data, or `$subject` / `$source` for the envelope.
 * Path segments are restricted to [A-Za-z0-9_-] so they can be inlined into SQL safely.
 */

export const AGGREGATIONS = ['sum', 'count', 'max', 'min', 'avg', 'unique_count', 'latest'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];
export type MeterKind = 'events' | 'media' | 'resource';
export type MeterOrigin = 'builtin' | 'config' | 'api';

export const SLUG_RE = /^[a-z][a-z0-9_]{0,62}$/;
export const DATA_PATH_RE = /^\$(\.[A-Za-z_][A-Za-z0-9_-]*)+$/;
export const GROUP_PATH_RE = /^(\$(\.[A-Za-z_][A-Za-z0-9_-]*)+|\$subject|\$source)$/;
const GROUP_NAME_RE = /^[a-z][a-z0-9_]{0,62}$/;
/** Names the query string already uses; a group may not take them. */
const RESERVED_GROUPS = new Set(['from', 'to', 'window', 'tz', 'group_by', 'filter', 'value', 'window_start', 'window_end', 'stat']);

export interface MeterDef {
  slug: string;
  event_type: string;
  aggregation: Aggregation;
  value_property: string | null;
  group_by: Record<string, string>;
  description: string | null;
}

export interface Meter extends MeterDef {
  origin: MeterOrigin;
  kind: MeterKind;
  created_at?: string;
}

export const meterDefSchema = z
  .object({
    slug: z.string().regex(SLUG_RE, 'must start with a lowercase letter and hold only a-z, 0-9 and _ (at most 63 characters)'),
    event_type: z.string().min(1, 'is required').max(200),
    aggregation: z.enum(AGGREGATIONS),
    value_property: z.string().regex(DATA_PATH_RE, 'must be a JSON path into data such as "$.tokens" or "$.usage.input"').optional().nullable(),
    group_by: z
      .record(
        z.string().regex(GROUP_NAME_RE, 'group names must be lowercase identifiers'),
        z.string().regex(GROUP_PATH_RE, 'must be a JSON path into data such as "$.model", or "$subject" / "$source"'),
      )
      .default({}),
    description: z.string().max(500).optional().nullable(),
  })
  .strict()
  .superRefine((d, ctx) => {
    if (d.aggregation !== 'count' && !d.value_property) {
      ctx.addIssue({ code: 'custom', path: ['value_property'], message: `is required for aggregation "${d.aggregation}"` });
    }
    for (const name of Object.keys(d.group_by)) {
      if (RESERVED_GROUPS.has(name)) ctx.addIssue({ code: 'custom', path: ['group_by', name], message: `"${name}" is reserved; choose another group name` });
    }
    if (Object.keys(d.group_by).length > 16) ctx.addIssue({ code: 'custom', path: ['group_by'], message: 'at most 16 groups' });
  })
  .transform(
    (d): MeterDef => ({
      slug: d.slug,
      event_type: d.event_type,
      aggregation: d.aggregation,
      value_property: d.aggregation === 'count' ? (d.value_property ?? null) : d.value_property!,
      group_by: d.group_by,
      description: d.description ?? null,
    }),
  );

/**
 * The built-in llm_* meters are not kept in meter buckets: the usage rollups (src/rollups) already
 * hold exact llm.usage aggregates, so their queries are answered from `rollups.usage()`. Their groups
 * are exactly the rollup dimensions; each meter is one rollup measure (or a sum of them).
 */
type RollupDim = UsageParams['groupBy'][number];
export const LLM_ROLLUP_DIMS = ['subject', 'team', 'project', 'api_key', 'provider', 'model', 'region', 'feature'] as const satisfies readonly RollupDim[];
/** Compile-time check that the list above is every rollup dimension. */
const _allDims: [Exclude<RollupDim, (typeof LLM_ROLLUP_DIMS)[number]>] extends [never] ? true : false = true;
void _allDims;
export type LlmRollupMeasure = 'requests' | 'input_tokens' | 'output_tokens' | 'tokens' | 'cost';
export const LLM_ROLLUP_METERS: Record<string, LlmRollupMeasure> = {
  llm_requests: 'requests',
  llm_input_tokens: 'input_tokens',
  llm_output_tokens: 'output_tokens',
  llm_tokens: 'tokens',
  llm_cost: 'cost',
};

/** True for the built-in llm_* meters (served by the rollups, never bucketed or backfilled). */
export function isRollupMeter(m: Pick<Meter, 'slug' | 'origin'>): boolean {
  return m.origin === 'builtin' && Object.hasOwn(LLM_ROLLUP_METERS, m.slug);
}

/** The groups a query may group by or filter on: the rollup dimensions for the llm_* built-ins, else the meter's own. */
export function meterGroups(m: Meter): string[] {
  return isRollupMeter(m) ? [...LLM_ROLLUP_DIMS] : Object.keys(m.group_by);
}

const LLM_GROUPS: Record<string, string> = Object.fromEntries(LLM_ROLLUP_DIMS.map((d) => [d, d === 'subject' ? '$subject' : `$.${d}`]));

const llm = (slug: string, aggregation: Aggregation, value_property: string | null, description: string): Meter => ({
  slug,
  event_type: 'llm.usage',
  aggregation,
  value_property,
  group_by: LLM_GROUPS,
  description: `${description} (from the usage rollups; groups are the rollup dimensions)`,
  origin: 'builtin',
  kind: 'events',
});

const MEDIA_GROUPS = { room: '$.room', participant: '$.participant', team: '$.team' };

export const BUILTIN_METERS: Meter[] = [
  llm('llm_requests', 'count', null, 'LLM requests (llm.usage events)'),
  llm('llm_input_tokens', 'sum', '$.input_tokens', 'Input tokens billed at the plain input rate'),
  llm('llm_output_tokens', 'sum', '$.output_tokens', 'Output tokens (reasoning included)'),
  llm('llm_tokens', 'sum', '$.tokens', 'input + cache read + cache write + output tokens'),
  llm('llm_cost', 'sum', '$.cost', 'Cost in USD (provider-reported, else priced by Tollgate); follows reprice'),
  { slug: 'video_minutes', event_type: 'media.track.*', aggregation: 'sum', value_property: null, group_by: MEDIA_GROUPS, description: 'Minutes of published video tracks (sessions split across windows)', origin: 'builtin', kind: 'media' },
  { slug: 'screen_share_minutes', event_type: 'media.track.*', aggregation: 'sum', value_property: null, group_by: MEDIA_GROUPS, description: 'Minutes of published screen-share tracks', origin: 'builtin', kind: 'media' },
  { slug: 'participant_minutes', event_type: 'media.track.*', aggregation: 'sum', value_property: null, group_by: MEDIA_GROUPS, description: 'Minutes a participant had at least one published track in a room', origin: 'builtin', kind: 'media' },
  { slug: 'concurrent_participants', event_type: 'media.track.*', aggregation: 'max', value_property: null, group_by: { room: '$.room', team: '$.team' }, description: 'Peak number of distinct participants with a published track at the same instant', origin: 'builtin', kind: 'media' },
  { slug: 'traffic_gb', event_type: 'resource.snapshot', aggregation: 'sum', value_property: '$.traffic_bytes_total', group_by: { host: '$.host' }, description: 'Traffic in GB (10^9 bytes) from traffic_bytes_total counter deltas; a counter that goes down is a reset', origin: 'builtin', kind: 'resource' },
  { slug: 'cpu_percent', event_type: 'resource.snapshot', aggregation: 'avg', value_property: '$.cpu_percent', group_by: { host: '$.host' }, description: 'CPU percent gauge: average per window (stat=max|min for peaks)', origin: 'builtin', kind: 'resource' },
  { slug: 'memory_percent', event_type: 'resource.snapshot', aggregation: 'avg', value_property: '$.memory_percent', group_by: { host: '$.host' }, description: 'Memory percent gauge: average per window (stat=max|min for peaks)', origin: 'builtin', kind: 'resource' },
];

export const BUILTIN_SLUGS = new Set(BUILTIN_METERS.map((m) => m.slug));

function segments(path: string): string[] {
  return path.slice(2).split('.');
}

/** SQL text of a data path (as text), e.g. data #>> '{usage,tokens}'. */
export function textExpr(path: string, alias = 'e'): string {
  if (path === '$subject') return `${alias}.subject`;
  if (path === '$source') return `${alias}.source`;
  if (!DATA_PATH_RE.test(path)) throw new Error(`bad path ${path}`);
  return `(${alias}.data #>> '{${segments(path).join(',')}}')`;
}

/** SQL numeric of a data path: JSON numbers and numeric strings; anything else is NULL (never an error). */
export function numericExpr(path: string, alias = 'e'): string {
  if (!DATA_PATH_RE.test(path)) throw new Error(`bad path ${path}`);
  const p = `'{${segments(path).join(',')}}'`;
  return `(CASE jsonb_typeof(${alias}.data #> ${p})
    WHEN 'number' THEN (${alias}.data #>> ${p})::numeric
    WHEN 'string' THEN CASE WHEN (${alias}.data #>> ${p}) ~ '^\\s*-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]{1,4})?\\s*$' THEN btrim(${alias}.data #>> ${p})::numeric END
  END)`;
}

export interface CompiledMeter {
  meter: Meter;
  /** The value of one event: numeric (text for unique_count); constant 1 for count. */
  valueSql: string;
  /** Group name → SQL text expression over the events row `e`. */
  groupSql: Record<string, string>;
  /** jsonb_build_object(...) of every group: the bucket's group key. */
  groupKeySql: string;
}

/** SQL of a bucketed (user-defined or config) event meter. The built-in llm_* meters never come here. */
export function compileMeter(m: Meter, alias = 'e'): CompiledMeter {
  if (isRollupMeter(m)) throw new Error(`meter ${m.slug} is served by the rollups, not meter buckets`);
  let valueSql: string;
  if (m.aggregation === 'count') valueSql = '1::numeric';
  else if (m.aggregation === 'unique_count') valueSql = textExpr(m.value_property!, alias);
  else valueSql = numericExpr(m.value_property!, alias);
  const groupSql: Record<string, string> = {};
  for (const [name, path] of Object.entries(m.group_by)) groupSql[name] = textExpr(path, alias);
  const names = Object.keys(groupSql).sort();
  const groupKeySql = names.length ? `jsonb_build_object(${names.map((n) => `'${n}', ${groupSql[n]}`).join(', ')})` : `'{}'::jsonb`;
  return { meter: m, valueSql, groupSql, groupKeySql };
}
