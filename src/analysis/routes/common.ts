import { z } from 'zod';
import type { KeyService } from '../../auth/service.ts';
import type { Clock } from '../../shared/clock.ts';
import type { Db } from '../../shared/db/index.ts';
import type { Signals } from '../../shared/signals.ts';
import { badRequest } from '../../shared/errors.ts';
import { DAY, QUARTER_HOUR, ceilTo, startOf } from '../../shared/time.ts';
import type { RollupService } from '../../rollups/service.ts';
import type { MeterService } from '../../meters/service.ts';
import type { PricingService } from '../../pricing/index.ts';
import { rfc3339, tzParam } from '../../rollups/params.ts';
import { DegenerateRegressionError } from '../regression.ts';
import { MEASURES, type Measure } from '../series.ts';
import type { EventLister } from '../latency.ts';

/** What the /v1/summary and /v1/analysis/* routes read (src/analysis/index.ts fills it). */
export interface AnalysisRouteDeps {
  keys: KeyService;
  db: Db;
  rollups: Pick<RollupService, 'usage' | 'ranges'>;
  meters: Pick<MeterService, 'query'>;
  pricing: PricingService | null;
  clock: Clock;
  signals?: Signals;
  defaultTz: string;
  minImpact: Record<Measure, number>;
  /** Raw events, for latency (tokens per second); absent: null. */
  events?: EventLister;
}

export const tags = ['analysis'];
export const decimal = z.string().regex(/^-?\d+(\.\d+)?$/, 'must be a decimal number such as 0.45');
export const measureParam = z.enum(MEASURES).default('cost');
/** A repeatable, comma-separable query parameter (`x=a&x=b`, `x=a,b`). */
export const repeated = z.union([z.string(), z.array(z.string())]).transform((v) => (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean));
const errorBody = z.object({ error: z.object({ type: z.string(), code: z.string(), message: z.string(), param: z.string().optional() }) });
/** The error answers these routes document (the body is http/errors.ts's). */
export const errors = { 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody };
/** One row's group: dimension → value (null: unattributed). */
export const group = z.record(z.string(), z.string().nullable());
/** A period or range in the zone. */
export const span = z.object({ from: z.string(), to: z.string() });
export const window3 = z.enum(['hour', 'day', 'week']).default('day');

/** from / to / tz, the query fields of every ranged route. */
export const rangeShape = (defaultTz: string) => ({ from: rfc3339('from').optional(), to: rfc3339('to').optional(), tz: tzParam(defaultTz) });

/** The asked range, or the last `days` whole days in the zone up to now (rounded up to 15 minutes); from must be before to. */
export function rangeOf(q: { from?: Date; to?: Date; tz: string }, now: Date, days: number): { from: Date; to: Date } {
  const upTo = new Date(ceilTo(now.getTime(), QUARTER_HOUR));
  const from = q.from ?? startOf(q.tz, 'day', upTo.getTime() - days * DAY);
  const to = q.to ?? upTo;
  if (!(from.getTime() < to.getTime())) throw badRequest('INVALID_FIELD', 'from must be before to', 'from');
  return { from, to };
}

/** A regression that cannot be fitted, as the 400 naming its cause. */
export function degenerate(e: unknown): never {
  if (e instanceof DegenerateRegressionError) {
    const code = { too_few_points: 'TOO_FEW_POINTS', no_variance: 'NO_VARIANCE', collinear: 'COLLINEAR', not_finite: 'NOT_FINITE' }[e.reason];
    throw badRequest(code, e.message, e.reason === 'no_variance' && e.variables.length === 1 ? e.variables[0] : e.reason === 'too_few_points' ? 'from' : 'x');
  }
  throw e;
}
