import type { Db } from '../shared/db/index.ts';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/log.ts';
import type { AlertsConfig } from './config.ts';
import type { AllowList } from './netguard.ts';
import type { Mailer } from './channels.ts';
import type { UsageForecaster } from './forecast.ts';
import type { EntitlementSource } from './types.ts';

/** The alerts domain's read-only port onto meters (adapted from the MeterService in index.ts). */
export interface MeterReader {
  /** Event types whose arrival can change the meter (null: unknown meter). */
  eventTypes(slug: string): Promise<string[] | null>;
  /** The meter's total over [from, to). Decimal string. */
  total(slug: string, from: Date, to: Date, tz: string, filters: Record<string, string[]>): Promise<string>;
  /** The meter's total over [from, to) per value of one group (rules that differ only in it share a query). */
  totalsBy(slug: string, from: Date, to: Date, tz: string, filters: Record<string, string[]>, group: string): Promise<Map<string, string>>;
  /** The meter per local day over [from, to), oldest first. */
  daily(slug: string, from: Date, to: Date, tz: string, filters: Record<string, string[]>): Promise<string[]>;
  /** The same, dated (local day), for a wired forecaster. */
  dailyByDay?(slug: string, from: Date, to: Date, tz: string, filters: Record<string, string[]>): Promise<Array<{ day: string; usage: string }>>;
}

export interface DeliveryReport {
  sent: number;
  retrying: number;
  failed: number;
}

/** What every part of the alerts service reads: the deps, resolved once in `alertService`. */
export interface AlertCtx {
  db: Db;
  clock: Clock;
  logger: Logger;
  config: AlertsConfig;
  /** Report zone: budgets' periods when the rule names none. */
  tz: string;
  dashboardUrl: string;
  meters?: MeterReader;
  /** forecast.exceeds: a model given at wiring time; the linear projection when absent or when it declines. */
  forecaster?: UsageForecaster;
  mailer?: Mailer;
  allow: AllowList;
  /** The entitlement port as it is now (it can be set after wiring). */
  entitlements(): EntitlementSource | undefined;
}

export const DAY_MS = 86_400_000;
