/**
 * Domain signals: the one in-process seam through which domains tell alerts (and the dashboard's
 * live stream) that something happened, without importing each other. A publisher never waits for
 * or fails because of a listener: listeners run after the publisher's commit, and one that throws
 * is reported through `onListenerError` (logged and counted by the composition root).
 *
 * Signals are hints, not the record: each domain keeps its own durable state (entitlement levels,
 * collector runs, anomalies), and alerts' hourly sweep re-reads that state, so a signal lost in a
 * crash is still acted on.
 */

export type EntitlementLevel = 'ok' | 'warning' | 'critical' | 'blocked';

export interface EntitlementLevelSignal {
  type: 'entitlement.level';
  entitlement_id: string;
  meter: string;
  subject: string | null;
  team: string | null;
  api_key: string | null;
  level: EntitlementLevel;
  previous_level: EntitlementLevel;
  /** Decimal strings in the meter's unit (tokens, USD, minutes). */
  usage: string;
  available: string;
  balance: string;
  percent: string;
  period_start: string;
  resets_at: string | null;
  purchase_url: string | null;
  occurred_at: string;
}

export interface CollectorFailureSignal {
  type: 'collector.failure';
  collector: string;
  account: string | null;
  window: string;
  error: string;
  occurred_at: string;
}

export interface ReconciliationMismatchSignal {
  type: 'reconciliation.mismatch';
  provider: string;
  date: string;
  model: string;
  recorded: Record<string, string>;
  reported: Record<string, string>;
  difference: Record<string, string>;
  occurred_at: string;
}

export interface AnomalySignal {
  type: 'anomaly';
  anomaly_id: string;
  measure: string;
  window_start: string;
  group: Record<string, string>;
  actual: string;
  expected: string;
  score: number;
  occurred_at: string;
}

export interface UsageSignal {
  type: 'usage.ingested';
  /** How many events were committed, and the UTC hours they touched (for live views). */
  events: number;
  hours: string[];
  occurred_at: string;
}

export type Signal = EntitlementLevelSignal | CollectorFailureSignal | ReconciliationMismatchSignal | AnomalySignal | UsageSignal;
export type SignalType = Signal['type'];
type Of<T extends SignalType> = Extract<Signal, { type: T }>;

export interface Signals {
  publish(signal: Signal): void;
  on<T extends SignalType>(type: T, listener: (signal: Of<T>) => void | Promise<void>): () => void;
}

export function createSignals(onListenerError: (err: unknown, signal: Signal) => void = () => {}): Signals {
  const listeners = new Map<SignalType, Set<(s: Signal) => void | Promise<void>>>();
  return {
    publish(signal) {
      for (const fn of listeners.get(signal.type) ?? []) {
        try {
          const r = fn(signal);
          if (r && typeof (r as Promise<void>).catch === 'function') (r as Promise<void>).catch((err) => onListenerError(err, signal));
        } catch (err) {
          onListenerError(err, signal);
        }
      }
    },
    on(type, listener) {
      let set = listeners.get(type);
      if (!set) listeners.set(type, (set = new Set()));
      set.add(listener as (s: Signal) => void);
      return () => set.delete(listener as (s: Signal) => void);
    },
  };
}
