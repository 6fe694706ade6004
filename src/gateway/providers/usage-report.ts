/**
 * What the providers' organisation usage/cost report readers share (providers/<name>/usage-report.ts):
 * the page shape, the error for a report that does not look as documented, and the wire helpers.
 * Pure; the collectors domain does the fetching.
 */
export interface Page<T> {
  items: T[];
  next_page: string | null;
}

export class ReportShapeError extends Error {}

/** Pages hold at most this many buckets (1d: 31, 1h: 168), for both providers. */
export const maxBuckets = (width: '1d' | '1h') => (width === '1d' ? 31 : 168);

/** `base` + `path` with the parameters that have a value; `group_by[]` keeps its brackets. */
export function withQuery(base: string, path: string, q: Array<[string, string | number | undefined | null]>): string {
  const qs = q.filter(([, v]) => v !== undefined && v !== null).map(([k, v]) => `${encodeURIComponent(k).replace(/%5B%5D$/, '[]')}=${encodeURIComponent(String(v))}`);
  return `${base.replace(/\/+$/, '')}${path}?${qs.join('&')}`;
}

/** A token count: absent or null is 0; anything but a non-negative safe integer is a shape error. */
export const num = (v: unknown, field: string): number => {
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new ReportShapeError(`${field} is not a non-negative integer: ${JSON.stringify(v)}`);
  return v;
};

export const strOrNull = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** The next page's cursor, or null when the report says there is no more. */
export const nextPage = (body: unknown): string | null => {
  const b = body as { has_more?: unknown; next_page?: unknown };
  return b.has_more === false ? null : strOrNull(b.next_page);
};
