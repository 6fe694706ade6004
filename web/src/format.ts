/** Display formatting. Money arrives as decimal strings; it is shown rounded, never summed as floats here. */

export function usd(v: string | number | null | undefined, digits?: number): string {
  if (v === null || v === undefined || v === '') return '—';
  const n = Number(v);
  const d = digits ?? (Math.abs(n) >= 100 ? 0 : Math.abs(n) >= 1 ? 2 : 4);
  return '$' + n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

export function num(v: string | number | null | undefined, digits = 0): string {
  if (v === null || v === undefined || v === '') return '—';
  return Number(v).toLocaleString('en-US', { maximumFractionDigits: digits });
}

export function compact(v: number): string {
  return Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 }).format(v);
}

export function pct(v: string | number | null | undefined, digits = 1): string {
  if (v === null || v === undefined || v === '') return '—';
  return `${(Number(v) * 100).toFixed(digits)} %`;
}

/** The date part of an RFC 3339 string (already in the report zone). */
export const day = (s: string | null | undefined) => (s ? s.slice(0, 10) : '—');
export const dateTime = (s: string | null | undefined) => (s ? s.replace('T', ' ').slice(0, 16) : '—');

export const tokensOf = (r: { input_tokens: number; output_tokens: number; cache_read_tokens: number; cache_write_tokens: number }) =>
  r.input_tokens + r.output_tokens + r.cache_read_tokens + r.cache_write_tokens;
