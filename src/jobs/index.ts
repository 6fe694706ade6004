import type { Db } from '../shared/db/index.ts';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/log.ts';
import { eventArchiveStore } from '../events/archive-store.ts';
import type { RetentionConfig } from './config.ts';
import { createScheduler, type Scheduler } from './scheduler.ts';
import { createRetention, type Retention } from './retention.ts';

export interface Jobs {
  scheduler: Scheduler;
  retention: Retention;
  /** Starts the timer (serve only; tests call scheduler.runDue(now) by hand). */
  start(): void;
  close(): Promise<void>;
}

/** Composition-root block of the jobs domain: the scheduler and the retention job. */
export function wireJobs(d: {
  db: Db;
  clock: Clock;
  logger: Logger;
  dataDir: string;
  retention: RetentionConfig;
  /** Seals resource aggregates before raw snapshots go (meters). */
  sealResources?: (before: Date) => Promise<void>;
}): Jobs {
  const scheduler = createScheduler(d.db, d.clock, d.logger);
  const retention = createRetention(d.db, eventArchiveStore(d.db), d.logger, d.retention, d.dataDir);
  if (d.sealResources) {
    const seal = d.sealResources;
    retention.hooks.beforeDelete.push(async (type, before) => {
      if (type === 'resource.snapshot') await seal(before);
    });
  }
  if (d.retention.enabled) scheduler.schedule('retention', d.retention.schedule, d.retention.tz, ({ now }) => retention.run(now));
  return { scheduler, retention, start: () => scheduler.start(), close: () => scheduler.close() };
}
