import { Money } from '../shared/money.ts';
import { TOKEN_CLASSES, type PriceSpec, type RateSpec, type TokenClass, type Usage } from './types.ts';
import { unitsToString } from './units.ts';

export { unitsToString } from './units.ts';

/**
 * The pure cost core: compile a PriceSpec once, then price usage with it.
 *
 * Exact and fast: a per-million rate with at most 9 decimals is held as the integer
 * rate × 10^9, so tokens × rate is a count of 10^-15 USD ("femto-dollars") — an integer, computed
 * in a double while it stays below 2^53 and in BigInt above. A rate that does not fit (more than 9
 * decimals, or absurdly large) makes the version use Decimal arithmetic instead. Both paths give
 * the same, exact decimal strings; the Decimal one is also the oracle in the property tests.
 */

const SCALE = 9; // decimals kept in a per-million rate on the integer path
const ONE_MILLION = new Money(1_000_000);

export type Cls = TokenClass | 'per_request';
const ALL: Cls[] = [...TOKEN_CLASSES, 'per_request'];

export interface CompiledRates {
  /** Per-million rates as given (decimal strings), null when not priced. per_request is USD per request. */
  s: Record<Cls, string | null>;
  /** Integer rates in 10^-15 USD per token (per request for per_request); null when not priced or not exact. */
  n: Record<Cls, number | null>;
  /** Decimal rates in USD per token (per request for per_request). */
  d: Record<Cls, Money | null>;
  /** Per class of QTY_CLASSES: the class whose rate applies after fallbacks, or null. */
  eff: Array<Cls | null>;
  /** Shared, frozen "prices used" objects per set of classes present (bit mask). */
  pricesByMask: Map<number, Readonly<Record<string, string>>>;
}

/** The order quantities are computed and reported in. */
const QTY_CLASSES: Cls[] = ['input', 'cache_read', 'cache_write', 'cache_write_1h', 'input_audio', 'output', 'reasoning', 'output_audio'];

export interface CompiledPrice {
  base: CompiledRates;
  /** Ascending by `above`; the last one whose `above` the prompt exceeds applies to the whole request. */
  tiers: Array<{ above: number; rates: CompiledRates }>;
  /** True when every rate fits the integer path. */
  exact: boolean;
  batch_discount: string | null;
}

export interface PriceResult {
  /** Sum of the breakdown (list price, before any discount), decimal string. */
  cost: string;
  breakdown: Record<string, string>;
  /** Per-million rates actually used, per class present. */
  prices: Readonly<Record<string, string>>;
  tier_above: number | null;
}

const DEC_RE = /^\d+(\.\d+)?$/;

export function normaliseDecimal(v: unknown, what: string): string {
  const s = typeof v === 'number' ? new Money(String(v)).toFixed() : typeof v === 'string' ? v.trim() : undefined;
  if (s === undefined || !/^\d+(\.\d+)?([eE][+-]?\d+)?$/.test(s)) throw new Error(`${what} must be a non-negative decimal (got ${JSON.stringify(v)})`);
  return new Money(s).toFixed();
}

function scaled(s: string, extra: number): number | null {
  // s × 10^(SCALE+extra) as a safe integer, or null if it has more decimals than that or is too big.
  if (!DEC_RE.test(s)) return null;
  const [i, f = ''] = s.split('.');
  const digits = SCALE + extra;
  const frac = f.replace(/0+$/, '');
  if (frac.length > digits) return null;
  const n = Number(i! + frac.padEnd(digits, '0'));
  return Number.isSafeInteger(n) ? n : null;
}

function compileRates(spec: RateSpec): CompiledRates {
  const s = {} as CompiledRates['s'];
  const n = {} as CompiledRates['n'];
  const d = {} as CompiledRates['d'];
  for (const c of ALL) {
    const v = spec[c];
    if (v === undefined || v === null) {
      s[c] = n[c] = d[c] = null;
      continue;
    }
    const str = normaliseDecimal(v, c);
    s[c] = str;
    // per_request is USD per request: scale by 10^15 directly; token rates are per million (10^9 × 10^6 = 10^15 per token).
    n[c] = c === 'per_request' ? scaled(str, 6) : scaled(str, 0);
    d[c] = c === 'per_request' ? new Money(str) : new Money(str).div(ONE_MILLION);
  }
  const r: CompiledRates = { s, n, d, eff: [], pricesByMask: new Map() };
  r.eff = QTY_CLASSES.map((c) => rateClass(r, c));
  return r;
}

/** Compiles a PriceSpec; throws (naming the field) on a bad value. An empty spec is a free model. */
export function compilePrice(spec: PriceSpec): CompiledPrice {
  const free = ALL.every((c) => spec[c] === undefined) && !spec.tiers?.length;
  const base = compileRates(free ? { input: '0', output: '0' } : spec);
  const tiers = (spec.tiers ?? [])
    .map((t) => {
      if (!Number.isSafeInteger(t.above) || t.above < 0) throw new Error(`tiers.above must be a non-negative integer (got ${JSON.stringify(t.above)})`);
      const merged: RateSpec = {};
      for (const c of ALL) {
        const v = t[c] ?? spec[c];
        if (v !== undefined) merged[c] = v;
      }
      return { above: t.above, rates: compileRates(merged) };
    })
    .sort((a, b) => a.above - b.above);
  const exact = [base, ...tiers.map((t) => t.rates)].every((r) => ALL.every((c) => r.s[c] === null || r.n[c] !== null));
  return { base, tiers, exact, batch_discount: spec.batch_discount === undefined ? null : normaliseDecimal(spec.batch_discount, 'batch_discount') };
}

const nz = (v: number | undefined): number => (typeof v === 'number' && v > 0 ? v : 0);

/**
 * Breakdown strings of the call being priced, by QTY_CLASSES index (8 = per-request fee); only the
 * entries whose bit is set in the mask are meaningful.
 */
const PARTS: string[] = new Array(QTY_CLASSES.length + 1).fill('');
const REQUEST_BIT = 1 << QTY_CLASSES.length;
// Masks of the usual calls: input+output, plus cache read, cache write, reasoning.
const M_IO = 0b100001;
const M_ICO = 0b100011;
const M_ICWO = 0b100111;
const M_IOR = 0b1100001;
const M_ICOR = 0b1100011;

/**
 * The breakdown as a plain object holding only the classes present, in QTY_CLASSES order. The
 * usual combinations are object literals of their exact size: breakdowns live as long as their
 * event's batch, so every byte of them is copied by the young-generation GC.
 */
function breakdownOf(mask: number): Record<string, string> {
  const p = PARTS;
  switch (mask) {
    case M_IO: return { input: p[0]!, output: p[5]! };
    case M_ICO: return { input: p[0]!, cache_read: p[1]!, output: p[5]! };
    case M_ICWO: return { input: p[0]!, cache_read: p[1]!, cache_write: p[2]!, output: p[5]! };
    case M_IOR: return { input: p[0]!, output: p[5]!, reasoning: p[6]! };
    case M_ICOR: return { input: p[0]!, cache_read: p[1]!, output: p[5]!, reasoning: p[6]! };
  }
  const b: Record<string, string> = {};
  for (let i = 0; i < QTY_CLASSES.length; i++) if (mask & (1 << i)) b[QTY_CLASSES[i]!] = p[i]!;
  if (mask & REQUEST_BIT) b.request = p[QTY_CLASSES.length]!;
  return b;
}

/** Scratch space for the quantities of one call (pricing is synchronous, so one buffer serves all). */
const QTY = new Float64Array(QTY_CLASSES.length);

/**
 * Which rate each class is billed at: cache read/write fall back to the input rate, the 1-hour
 * write to the 5-minute one, and reasoning / audio stay inside output / input unless the price
 * names a rate of their own (that is when the provider bills them differently).
 * Fills QTY and returns the rates of the tier in force.
 */
let curRates: CompiledRates;
let curTier: number | null = null;
function fillQuantities(p: CompiledPrice, u: Usage): void {
  const input = nz(u.input_tokens);
  const output = nz(u.output_tokens);
  const cr = nz(u.cache_read_tokens);
  const cw = nz(u.cache_write_tokens);
  const prompt = input + cr + cw;
  let rates = p.base;
  let tier_above: number | null = null;
  for (let i = 0; i < p.tiers.length; i++) {
    const t = p.tiers[i]!;
    if (prompt > t.above) {
      rates = t.rates;
      tier_above = t.above;
    }
  }
  const s = rates.s;
  const ia = s.input_audio !== null ? Math.min(nz(u.input_audio_tokens), input) : 0;
  const cw1h = Math.min(nz(u.cache_write_1h_tokens), cw);
  const reasoning = s.reasoning !== null ? Math.min(nz(u.reasoning_tokens), output) : 0;
  const oa = s.output_audio !== null ? Math.min(nz(u.output_audio_tokens), output - reasoning) : 0;
  QTY[0] = input - ia;
  QTY[1] = cr;
  QTY[2] = cw - cw1h;
  QTY[3] = cw1h;
  QTY[4] = ia;
  QTY[5] = output - reasoning - oa;
  QTY[6] = reasoning;
  QTY[7] = oa;
  curRates = rates;
  curTier = tier_above;
}

/** The class whose rate a class is billed at when it has none of its own. */
const FALLBACK: Partial<Record<Cls, Cls>> = { cache_read: 'input', cache_write: 'input', cache_write_1h: 'cache_write' };

function rateClass(r: { s: Record<Cls, string | null> }, c: Cls): Cls | null {
  let k: Cls | undefined = c;
  while (k && r.s[k] === null) k = FALLBACK[k];
  return k ?? null;
}

function pricesFor(rates: CompiledRates, mask: number): Readonly<Record<string, string>> {
  let p = rates.pricesByMask.get(mask);
  if (!p) {
    const o: Record<string, string> = {};
    for (let i = 0; i < QTY_CLASSES.length; i++) if (mask & (1 << i)) o[QTY_CLASSES[i]!] = rates.s[rates.eff[i]!]!;
    if (mask & REQUEST_BIT) o.per_request = rates.s.per_request!;
    rates.pricesByMask.set(mask, (p = Object.freeze(o)));
  }
  return p;
}

/**
 * Prices one usage with one compiled price. Returns null when a class with tokens has no rate
 * (the model is then unpriced: never silently free).
 */
export function priceUsage(p: CompiledPrice, u: Usage, requests = 1): PriceResult | null {
  fillQuantities(p, u);
  const rates = curRates;
  const tier_above = curTier;
  if (!p.exact) return priceDecimal(rates, tier_above, requests);
  const n = rates.n;
  let total = 0;
  let big: bigint | null = null;
  let mask = 0;
  for (let i = 0; i < QTY.length; i++) {
    const q = QTY[i]!;
    if (q <= 0) continue;
    const k = rates.eff[i];
    if (k === null || k === undefined) return null;
    const r = n[k]!;
    let v: number | bigint = q * r;
    if (!Number.isSafeInteger(v)) v = BigInt(q) * BigInt(r);
    PARTS[i] = unitsToString(v);
    mask |= 1 << i;
    if (big === null && typeof v === 'number' && Number.isSafeInteger(total + v)) total += v;
    else big = (big ?? BigInt(total)) + BigInt(v);
  }
  if (n.per_request !== null && requests > 0) {
    const v = n.per_request * requests;
    PARTS[QTY_CLASSES.length] = unitsToString(v);
    mask |= REQUEST_BIT;
    if (big === null && Number.isSafeInteger(total + v)) total += v;
    else big = (big ?? BigInt(total)) + BigInt(v);
  }
  return { cost: unitsToString(big ?? total), breakdown: breakdownOf(mask), prices: pricesFor(rates, mask), tier_above };
}

function priceDecimal(rates: CompiledRates, tier_above: number | null, requests: number): PriceResult | null {
  let total = new Money(0);
  let mask = 0;
  for (let i = 0; i < QTY.length; i++) {
    const q = QTY[i]!;
    if (q <= 0) continue;
    const k = rates.eff[i];
    if (k === null || k === undefined) return null;
    const v = rates.d[k]!.times(q);
    PARTS[i] = v.toFixed();
    mask |= 1 << i;
    total = total.plus(v);
  }
  if (rates.d.per_request !== null && requests > 0) {
    const v = rates.d.per_request.times(requests);
    PARTS[QTY_CLASSES.length] = v.toFixed();
    mask |= REQUEST_BIT;
    total = total.plus(v);
  }
  return { cost: total.toFixed(), breakdown: breakdownOf(mask), prices: pricesFor(rates, mask), tier_above };
}

/** Reference implementation, always in Decimal: the oracle for the fast path in tests. */
export function priceUsageDecimal(p: CompiledPrice, u: Usage, requests = 1): PriceResult | null {
  fillQuantities(p, u);
  return priceDecimal(curRates, curTier, requests);
}
