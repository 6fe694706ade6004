import { Money, ZERO, type Money as MoneyT } from '../shared/money.ts';

/**
 * Provider-reported cost, spread over the usage rows it belongs to. Cost reports are coarser than
 * usage reports (OpenAI: per day, project and line item "<model>, <token class>"; Anthropic: per
 * day, workspace, model, tier and token type, no API key), so each cost line is split over the
 * usage rows it matches in proportion to the tokens of the class it bills (all tokens when the
 * class is unknown; equally when the rows have none). The parts of a line add up to the line
 * exactly (the last row takes the remainder); a line no usage row matches is returned unmatched.
 */

export type TokenClass = 'input' | 'cache_read' | 'cache_write' | 'cache_write_5m' | 'cache_write_1h' | 'output';

export interface AllocRow {
  /** UTC day of the bucket, YYYY-MM-DD. */
  day: string;
  /** Dimension values a cost line can name (model, scope, batch, service_tier, …). */
  dims: Record<string, string | null>;
  tokens: Record<TokenClass, number>;
}

export interface AllocLine {
  day: string;
  /** Only the dimensions the line names; a row matches when every one is equal. */
  dims: Record<string, string | null>;
  cls: TokenClass | null;
  amount: string;
  /** What the provider calls it (line item, description). */
  label?: string;
}

export interface Allocation {
  /** Per row index: the cost allocated to it, or null when no line matched it. */
  costs: Array<MoneyT | null>;
  unmatched: AllocLine[];
}

const total = (t: Record<TokenClass, number>) => t.input + t.cache_read + t.cache_write + t.cache_write_5m + t.cache_write_1h + t.output;

function weight(t: Record<TokenClass, number>, cls: TokenClass | null): number {
  if (cls === null) return total(t);
  if (cls === 'cache_write') return t.cache_write + t.cache_write_5m + t.cache_write_1h;
  return t[cls];
}

export function allocateCosts(rows: AllocRow[], lines: AllocLine[]): Allocation {
  const costs: Array<MoneyT | null> = rows.map(() => null);
  const unmatched: AllocLine[] = [];
  // Candidates by day, and by day + model (every line naming a model looks only at that model's rows).
  const byDay = new Map<string, number[]>();
  const push = (m: Map<string, number[]>, k: string, i: number) => {
    let l = m.get(k);
    if (!l) m.set(k, (l = []));
    l.push(i);
  };
  rows.forEach((r, i) => {
    push(byDay, r.day, i);
    push(byDay, `${r.day}\u0000${r.dims.model ?? ''}`, i);
  });
  for (const line of lines) {
    const model = line.dims.model;
    const candidates = byDay.get(model !== undefined ? `${line.day}\u0000${model ?? ''}` : line.day) ?? [];
    const dims = Object.entries(line.dims);
    const match = candidates.filter((i) => dims.every(([k, v]) => (rows[i]!.dims[k] ?? null) === v));
    if (!match.length) {
      unmatched.push(line);
      continue;
    }
    let weights = match.map((i) => weight(rows[i]!.tokens, line.cls));
    if (weights.every((w) => w === 0)) weights = match.map((i) => total(rows[i]!.tokens));
    if (weights.every((w) => w === 0)) weights = match.map(() => 1);
    const sum = weights.reduce((a, b) => a + b, 0);
    const amount = new Money(line.amount);
    let given: MoneyT = ZERO;
    match.forEach((i, k) => {
      const part = k === match.length - 1 ? amount.minus(given) : amount.times(weights[k]!).div(sum).toDecimalPlaces(12, Money.ROUND_DOWN);
      given = given.plus(part);
      costs[i] = (costs[i] ?? ZERO).plus(part);
    });
  }
  return { costs, unmatched };
}
