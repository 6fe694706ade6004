/**
 * Formatting a count of 10^-15 USD ("femto-dollars", what the integer path of price.ts computes)
 * as a plain decimal string, without Decimal and with as few allocations as possible: it runs for
 * every breakdown entry and every cost at ingest.
 */

const UNIT_DECIMALS = 15; // tokens × (rate × 10^9) counts units of 10^-(6+9) USD

/**
 * Formats an integer count of 10^-15 USD as a plain decimal string. The number is cut into parts
 * below 2^31 (integer part, 7 + 8 fraction digits) because V8 turns small integers into strings far
 * faster than doubles; % and the division of an exact multiple are exact below 2^53.
 */
export function unitsToString(u: number | bigint): string {
  if (typeof u === 'bigint') return bigUnitsToString(u);
  if (u === 0) return '0';
  const frac = floorDivMod(u, 1e15);
  const int = quotient;
  if (frac === 0) return String(int);
  const lo = floorDivMod(frac, 1e8);
  const hi = quotient;
  // Both below 2^31 now: trim trailing zeros with integer arithmetic.
  let h = hi | 0;
  let l = lo | 0;
  if (l === 0) {
    // The usual case (rates have few significant digits): the fraction fits in h, so the string is
    // one prefix from a table plus one small integer — two allocations.
    let d = 7;
    while (h % 10 === 0) {
      h = (h / 10) | 0;
      d--;
    }
    const hs = String(h);
    return int === 0 ? PZ[d - hs.length] + hs : String(int) + '.' + ZP[d - hs.length] + hs;
  }
  let d = 8;
  while (l % 10 === 0) {
    l = (l / 10) | 0;
    d--;
  }
  const ls = String(l);
  if (h === 0) return (int === 0 ? PZ[7] : String(int) + '.0000000') + ZP[d - ls.length] + ls;
  const hs = String(h);
  return (int === 0 ? PZ[7 - hs.length] : String(int) + '.' + ZP[7 - hs.length]) + hs + ZP[d - ls.length] + ls;
}
/** The quotient of the last floorDivMod (a second return value without allocating a pair). */
let quotient = 0;
/**
 * x mod d for integers below 2^53, setting `quotient`: floor division with a correction step
 * instead of floating-point % (a slow libc call).
 */
function floorDivMod(x: number, d: number): number {
  let q = Math.floor(x / d);
  let r = x - q * d;
  if (r < 0) {
    q -= 1;
    r += d;
  } else if (r >= d) {
    q += 1;
    r -= d;
  }
  quotient = q;
  return r;
}

/** Runs of zeros by length, so padding allocates nothing. */
const ZP = Array.from({ length: 16 }, (_, i) => '0'.repeat(i));
/** "0." followed by a run of zeros, by length. */
const PZ = ZP.map((z) => '0.' + z);

function bigUnitsToString(u: bigint): string {
  let s = u.toString();
  if (s === '0') return '0';
  if (s.length <= UNIT_DECIMALS) s = '0'.repeat(UNIT_DECIMALS + 1 - s.length) + s;
  const int = s.slice(0, s.length - UNIT_DECIMALS);
  const frac = s.slice(s.length - UNIT_DECIMALS).replace(/0+$/, '');
  return frac ? `${int}.${frac}` : int;
}
