import { prom, type Registry } from '../shared/metrics.ts';
import type { Level } from './engine.ts';
import type { UsageSource } from './usage.ts';

/** tollgate_quota_* metrics: reservations opened/settled/released/expired, open now, checks by level. */
export function quotaMetrics(registry: Registry, openNow: () => Promise<number>) {
  const reservations = new prom.Counter({ name: 'tollgate_quota_reservations_total', help: 'Quota reservations by outcome', labelNames: ['outcome'], registers: [registry] });
  const checks = new prom.Counter({ name: 'tollgate_quota_checks_total', help: 'Quota checks and reservations by level', labelNames: ['level'], registers: [registry] });
  const computed = new prom.Counter({ name: 'tollgate_quota_computations_total', help: 'Entitlement computations by where they started: stored snapshot, rebuilt (late usage or changed grants), replayed from the start', labelNames: ['source'], registers: [registry] });
  new prom.Gauge({
    name: 'tollgate_quota_reservations_open',
    help: 'Quota reservations open now (all processes)',
    registers: [registry],
    async collect() {
      this.set(await openNow().catch(() => 0));
    },
  });
  return {
    opened: () => reservations.inc({ outcome: 'opened' }),
    settled: (n: number) => reservations.inc({ outcome: 'settled' }, n),
    released: (n: number) => reservations.inc({ outcome: 'released' }, n),
    expired: (n: number) => reservations.inc({ outcome: 'expired' }, n),
    check: (level: Level) => checks.inc({ level }),
    usageSource: (source: UsageSource) => computed.inc({ source }),
  };
}
export type QuotaMetrics = ReturnType<typeof quotaMetrics>;
