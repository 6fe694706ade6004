import type { Db } from '../shared/db/index.ts';
import { Money, ZERO, moneyString } from '../shared/money.ts';

/**
 * Reconciliation: per UTC day and model, what Tollgate recorded itself (gateway and SDK events:
 * any llm.usage source but a collector's) against what the provider reports (the collector's
 * events), in requests, tokens by class and cost. Models are compared without their dated
 * snapshot suffix (gpt-4o-2024-08-06 → gpt-4o, claude-sonnet-4-20250514 → claude-sonnet-4), since
 * clients name the alias and reports the snapshot. Reads the events table in one aggregate SELECT.
 */

export const MEASURES = ['requests', 'input_tokens', 'cache_read_tokens', 'cache_write_tokens', 'output_tokens', 'cost'] as const;
export type Measure = (typeof MEASURES)[number];
export type Side = Record<Measure, string | null>;

export interface ReconRow {
  model: string;
  recorded: Side;
  reported: Side;
  difference: Side;
  within_tolerance: boolean;
}

export function baseModel(m: string): string {
  return m.replace(/-\d{4}-\d{2}-\d{2}$/, '').replace(/-\d{8}$/, '');
}

const empty = (): Side => ({ requests: '0', input_tokens: '0', cache_read_tokens: '0', cache_write_tokens: '0', output_tokens: '0', cost: '0' });

/** Compares two sides measure by measure: |reported − recorded| ≤ tolerance × max(|reported|, |recorded|). */
export function compare(model: string, recorded: Side, reported: Side, tolerance: number): ReconRow {
  const difference = empty();
  let ok = true;
  for (const m of MEASURES) {
    const a = recorded[m];
    const b = reported[m];
    if (a === null || b === null) {
      difference[m] = null;
      continue;
    }
    const d = new Money(b).minus(a);
    difference[m] = moneyString(d);
    const scale = Money.max(new Money(a).abs(), new Money(b).abs());
    if (d.abs().gt(scale.times(tolerance))) ok = false;
  }
  return { model, recorded, reported, difference, within_tolerance: ok };
}

export async function reconcile(db: Db, o: { date: Date; provider: string; tolerance: number }): Promise<ReconRow[]> {
  const from = o.date.toISOString();
  const to = new Date(o.date.getTime() + 86_400_000).toISOString();
  const r = await db.query<Record<string, string | null> & { model: string; reported: boolean }>(
    `SELECT model, source LIKE 'collector:%' AS reported,
            CASE WHEN source LIKE 'collector:%' THEN sum((data->>'requests')::numeric) ELSE count(*) END::text AS requests,
            bool_and(source NOT LIKE 'collector:%' OR data ? 'requests') AS has_requests,
            sum(input_tokens)::text AS input_tokens, sum(cache_read_tokens)::text AS cache_read_tokens,
            sum(cache_write_tokens)::text AS cache_write_tokens, sum(output_tokens)::text AS output_tokens,
            sum(coalesce(cost, 0))::text AS cost
       FROM events
      WHERE type = 'llm.usage' AND provider = $1 AND time >= $2 AND time < $3
        AND (source = $4 OR source NOT LIKE 'collector:%')
      GROUP BY model, source LIKE 'collector:%'`,
    [o.provider, from, to, `collector:${o.provider}`],
  );
  const by = new Map<string, { recorded: Side; reported: Side }>();
  const add = (s: Side, row: Record<string, unknown>) => {
    for (const m of MEASURES) {
      if (m === 'requests' && row.has_requests === false) s.requests = null;
      else if (s[m] !== null) s[m] = moneyString(new Money(s[m]!).plus((row[m] as string | null) ?? '0'));
    }
  };
  for (const row of r.rows) {
    const model = baseModel(row.model ?? 'unknown');
    let e = by.get(model);
    if (!e) by.set(model, (e = { recorded: empty(), reported: empty() }));
    add(row.reported ? e.reported : e.recorded, row);
  }
  return [...by.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([model, s]) => compare(model, s.recorded, s.reported, o.tolerance));
}

export const totalCost = (rows: ReconRow[], side: 'recorded' | 'reported') => moneyString(rows.reduce((s, r) => s.plus(r[side].cost ?? '0'), ZERO));
