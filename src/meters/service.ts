import type { Db, Queryable } from '../shared/db/index.ts';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/log.ts';
import type { EventRow, StoredChange } from '../events/types.ts';
import type { RollupService } from '../rollups/service.ts';
import { ApiError, badRequest, notFound } from '../shared/errors.ts';
import { BUILTIN_METERS, BUILTIN_SLUGS, LLM_ROLLUP_METERS, isRollupMeter, meterDefSchema, meterGroups, type Meter, type MeterDef } from './definitions.ts';
import { accumulate, deleteMeter, dropBuckets, eventMetersFor, getMeter, insertMeter, listMeters, METER_DEF_LOCK, refreshBuiltin } from './store.ts';
import { ingestMedia, MEDIA_STARTED, MEDIA_ENDED, ROOM_FINISHED } from './media-store.ts';
import { seal } from './resource-store.ts';
import { queryMeter, type MeterQuery, type MeterRow, type QueryDeps } from './query.ts';

export type { MeterQuery, MeterRow } from './query.ts';

export interface MetersConfig {
  /** Meters defined in the config file (origin "config"). */
  definitions: unknown[];
  /** Open media sessions are closed this long after they started (runaway sessions). */
  max_session_hours: number;
}

export interface MeterService {
  /** Creates the built-in and config meters that are missing (backfilling each). */
  init(configMeters: unknown[]): Promise<void>;
  list(): Promise<Meter[]>;
  get(slug: string): Promise<Meter>;
  create(def: unknown, origin?: 'api' | 'config'): Promise<Meter>;
  remove(slug: string): Promise<void>;
  query(slug: string, q: MeterQuery): Promise<MeterRow[]>;
  /** Groups a query may use for a meter. */
  groupsOf(m: Meter): string[];
  /**
   * Bucket maintenance of user-defined/config event meters and media marks (not the llm_*
   * built-ins) at ingest: events' `inTransaction` hook, in the ingest transaction.
   */
  ingest: { inTransaction(tx: Queryable, change: StoredChange): Promise<void> };
  /** Retention calls this before deleting raw resource.snapshot events older than `before`. */
  sealResources(before: Date): Promise<void>;
}

export interface MeterDeps {
  /** Answers the built-in llm_* meters (exact llm.usage aggregates in any zone and window). */
  rollups: Pick<RollupService, 'usage'>;
}

const MEDIA_TYPES = new Set([MEDIA_STARTED, MEDIA_ENDED, ROOM_FINISHED]);
const typesOf = (rows: EventRow[]) => [...new Set(rows.map((r) => r.type))];

/** Inserts a meter and backfills it from stored events, unless its slug is taken (false). */
async function createIn(db: Db, clock: Clock, m: Meter): Promise<boolean> {
  return db.transaction(async (tx) => {
    // Exclusive against ingest's shared hold: no batch commits between backfill and definition.
    await tx.query('SELECT pg_advisory_xact_lock($1)', [METER_DEF_LOCK]);
    if (!(await insertMeter(tx, m, clock.now()))) return false;
    if (m.kind === 'events' && !isRollupMeter(m)) await accumulate(tx, m, 'true', []);
    return true;
  });
}

function parseDef(def: unknown): MeterDef {
  const r = meterDefSchema.safeParse(def);
  if (!r.success) {
    const i = r.error.issues[0]!;
    const field = i.path.join('.');
    throw badRequest('INVALID_FIELD', `${field ? `"${field}" ` : ''}${i.message}`, field || 'body');
  }
  return r.data;
}

function sameDef(a: MeterDef, b: MeterDef): boolean {
  const canon = (m: MeterDef) =>
    JSON.stringify([m.event_type, m.aggregation, m.value_property ?? null, Object.entries(m.group_by).sort(([x], [y]) => x.localeCompare(y)), m.description ?? null]);
  return canon(a) === canon(b);
}

/** The built-ins (created once, refreshed), then the config meters (a changed one is rebuilt from stored events). */
async function init(db: Db, clock: Clock, logger: Logger, configMeters: unknown[]): Promise<void> {
  for (const m of BUILTIN_METERS) {
    if (await createIn(db, clock, m)) logger.debug({ meter: m.slug }, 'built-in meter created');
    else if (isRollupMeter(m)) await refreshBuiltin(db, m);
  }
  // The llm_* built-ins used to keep buckets; the rollups serve them now.
  await dropBuckets(db, Object.keys(LLM_ROLLUP_METERS));
  for (const raw of configMeters) {
    const def = parseDef(raw);
    if (BUILTIN_SLUGS.has(def.slug)) throw new Error(`meters: "${def.slug}" is a built-in meter; choose another slug`);
    const existing = await getMeter(db, def.slug);
    const wanted: Meter = { ...def, origin: 'config', kind: 'events' };
    if (existing && sameDef(existing, wanted)) continue;
    if (existing) {
      logger.info({ meter: def.slug }, 'meter definition changed in config: rebuilding it from stored events');
      await deleteMeter(db, def.slug);
    }
    await createIn(db, clock, wanted);
  }
}

/** The events' `inTransaction` hook: media marks and the buckets of the event meters on the batch's types. */
async function ingestInTransaction(tx: Queryable, change: StoredChange): Promise<void> {
  if (change.kind !== 'inserted') return; // meters count events, not their cost columns
  const rows = change.rows;
  const types = typesOf(rows);
  if (types.some((t) => MEDIA_TYPES.has(t))) await ingestMedia(tx, rows);
  // Shared against a meter's creation (exclusive): no batch commits between its backfill and its definition.
  await tx.query('SELECT pg_advisory_xact_lock_shared($1)', [METER_DEF_LOCK], { prepare: 'meters_def_lock_shared' });
  const meters = (await eventMetersFor(tx, types)).filter((m) => !isRollupMeter(m));
  for (const m of meters) {
    const seqs = rows.filter((r) => r.type === m.event_type).map((r) => r.seq);
    await accumulate(tx, m, 'e.seq = ANY($3::bigint[])', [seqs]);
  }
}

export function meterService(db: Db, clock: Clock, logger: Logger, cfg: MetersConfig, deps: MeterDeps): MeterService {
  const queryDeps: QueryDeps = { db, rollups: deps.rollups, now: () => clock.now().getTime(), maxMs: cfg.max_session_hours * 3_600_000 };
  async function get(slug: string): Promise<Meter> {
    const m = await getMeter(db, slug);
    if (!m) throw notFound(`meter "${slug}"`);
    return m;
  }
  return {
    groupsOf: meterGroups,
    init: (configMeters) => init(db, clock, logger, configMeters),
    list: () => listMeters(db),
    get,
    async create(raw, origin = 'api') {
      const def = parseDef(raw);
      const m: Meter = { ...def, origin, kind: 'events' };
      if (!(await createIn(db, clock, m))) throw new ApiError({ type: 'conflict', code: 'METER_EXISTS', message: `a meter with slug "${def.slug}" already exists`, param: 'slug' });
      return (await getMeter(db, m.slug))!;
    },
    async remove(slug) {
      const m = await get(slug);
      if (m.origin === 'builtin') throw new ApiError({ type: 'conflict', code: 'BUILTIN_METER', message: `"${slug}" is a built-in meter and cannot be deleted`, param: 'slug' });
      if (m.origin === 'config') throw new ApiError({ type: 'conflict', code: 'CONFIG_METER', message: `"${slug}" is defined in the config file; remove it there`, param: 'slug' });
      await deleteMeter(db, slug);
    },
    query: async (slug, q) => queryMeter(queryDeps, await get(slug), q),
    ingest: { inTransaction: ingestInTransaction },
    async sealResources(before) {
      await db.transaction((tx) => seal(tx, before));
    },
  };
}
