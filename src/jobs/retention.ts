import path from 'node:path';
import type { Db } from '../shared/db/index.ts';
import type { Logger } from '../shared/log.ts';
import type { EventArchiveStore } from '../events/archive-store.ts';
import type { RetentionConfig } from './config.ts';
import { nextArchivePath, openArchive, readArchive } from './archive.ts';

/**
 * Retention: raw events older than their type's retention are archived (gzip NDJSON, one file per
 * UTC day and type) and only then deleted, with their (source, id) moved to event_tombstones.
 * Days are UTC days; the cut-off is a UTC midnight, so "7 days" keeps today plus 7 whole days.
 */

const DAY = 86_400_000;

export interface RetentionHooks {
  /** Runs before raw events of `type` older than `before` are deleted (meters seal resource aggregates). */
  beforeDelete: Array<(type: string, before: Date) => Promise<void>>;
  /** Rollup tiers (hourly/daily …) are pruned by their owner through this hook. */
  tiers: Array<(tiers: Record<string, number | null>, now: Date) => Promise<unknown>>;
}

export interface ArchivedFile {
  type: string;
  day: string;
  rows: number;
  deleted: number;
  path: string | null;
}

export interface RetentionResult {
  cutoffs: Record<string, string>;
  files: ArchivedFile[];
  deleted: number;
}

export interface Retention {
  hooks: RetentionHooks;
  /** The cut-off per configured type at `now` (types without retention are absent); `*` is every other type. */
  cutoffs(now: Date): Record<string, Date>;
  run(now: Date): Promise<RetentionResult>;
  restore(file: string, now: Date): Promise<{ rows: number; restored: number }>;
  archiveDir: string;
}

export function utcDayStart(t: Date): Date {
  return new Date(Math.floor(t.getTime() / DAY) * DAY);
}

export function retentionCutoffs(cfg: RetentionConfig, now: Date): Record<string, Date> {
  const today = utcDayStart(now).getTime();
  const out: Record<string, Date> = {};
  for (const [type, days] of Object.entries(cfg.types)) if (days !== null) out[type] = new Date(today - days * DAY);
  if (cfg.default_days !== null) out['*'] = new Date(today - cfg.default_days * DAY);
  return out;
}

export function createRetention(db: Db, store: EventArchiveStore, logger: Logger, cfg: RetentionConfig, dataDir: string): Retention {
  const archiveDir = path.resolve(cfg.archive_dir ?? path.join(dataDir, 'archive'));
  const hooks: RetentionHooks = { beforeDelete: [], tiers: [] };
  const PAGE = 5_000;

  async function archiveDay(type: string, day: string, before: Date, now: Date): Promise<ArchivedFile> {
    const file = cfg.archive ? nextArchivePath(archiveDir, type, day) : null;
    const writer = file ? await openArchive(file) : null;
    const seqs: string[] = [];
    try {
      let after = '0';
      for (;;) {
        const rows = await store.page(type, day, before, after, PAGE);
        if (!rows.length) break;
        await writer?.write(rows);
        for (const r of rows) seqs.push(r.seq);
        after = rows[rows.length - 1]!.seq;
        if (rows.length < PAGE) break;
      }
      if (!seqs.length) {
        await writer?.abort();
        return { type, day, rows: 0, deleted: 0, path: null };
      }
      const written = writer ? await writer.finish() : null;
      const deleted = await db.transaction(async (tx) => {
        const n = await store.deleteArchived(tx, seqs, now);
        if (written) {
          await tx.query(
            `INSERT INTO archive_files (path, type, day, rows, bytes, created_at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (path) DO UPDATE SET rows = excluded.rows, bytes = excluded.bytes, created_at = excluded.created_at, restored_at = NULL`,
            [written.path, type, day, written.rows, written.bytes, now.toISOString()],
          );
        }
        return n;
      });
      return { type, day, rows: seqs.length, deleted, path: written?.path ?? null };
    } catch (e) {
      await writer?.abort().catch(() => {});
      throw e;
    }
  }

  return {
    hooks,
    archiveDir,
    cutoffs: (now) => retentionCutoffs(cfg, now),
    async run(now) {
      const cutoffs = retentionCutoffs(cfg, now);
      const listed = Object.keys(cfg.types);
      const files: ArchivedFile[] = [];
      let deleted = 0;
      for (const [type, before] of Object.entries(cutoffs)) {
        const days = await store.daysBefore(before, type === '*' ? { except: listed } : { only: [type] });
        if (!days.length) continue;
        const types = [...new Set(days.map((d) => d.type))];
        for (const t of types) for (const h of hooks.beforeDelete) await h(t, before);
        for (const d of days) {
          const f = await archiveDay(d.type, d.day, before, now);
          if (f.rows) {
            files.push(f);
            deleted += f.deleted;
            logger.info({ type: f.type, day: f.day, rows: f.rows, path: f.path }, 'retention: archived and deleted raw events');
          }
        }
      }
      for (const h of hooks.tiers) await h(cfg.tiers, now);
      return { cutoffs: Object.fromEntries(Object.entries(cutoffs).map(([k, v]) => [k, v.toISOString()])), files, deleted };
    },
    async restore(file, now) {
      let rows = 0;
      let restored = 0;
      await db.transaction(async (tx) => {
        for await (const batch of readArchive(file)) {
          rows += batch.length;
          restored += await store.restoreRows(tx, batch);
        }
        await tx.query('UPDATE archive_files SET restored_at = $2 WHERE path = $1', [path.resolve(file), now.toISOString()]);
      });
      return { rows, restored };
    },
  };
}
