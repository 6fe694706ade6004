import { z } from 'zod';
import { badRequest } from '../shared/errors.ts';
import { isValidZone } from '../shared/time.ts';
import { DIMS, type Dim } from './cubes.ts';

/** Query-string pieces shared by the usage routes, export and summary. */

export { rfc3339Param as rfc3339 } from '../http/params.ts';

export const tzParam = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .refine(isValidZone, 'must be an IANA time zone such as Asia/Seoul');

export const windowParam = z.enum(['hour', 'day', 'week', 'month', 'none']);

export const dimParam = z.enum(DIMS);

export const groupByParam = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (!v) return [] as Dim[];
    const parts = [...new Set(v.split(',').map((s) => s.trim()).filter(Boolean))];
    for (const p of parts) {
      if (!(DIMS as readonly string[]).includes(p)) {
        ctx.addIssue({ code: 'custom', message: `has unknown dimension "${p}"; use ${DIMS.join(', ')}` });
        return z.NEVER;
      }
    }
    return parts as Dim[];
  });

const filterValue = z.union([z.string(), z.array(z.string())]).optional();

/** `filter[model]=x` arrives as the literal key "filter[model]"; repeat it for several values. */
export const filterShape = Object.fromEntries(DIMS.map((d) => [`filter[${d}]`, filterValue])) as Record<`filter[${Dim}]`, typeof filterValue>;

/** Picks the filter[...] keys out of a parsed query; rejects unknown dimensions by name. */
export function filtersOf(query: Record<string, unknown>, raw: unknown): Partial<Record<Dim, string[]>> {
  if (raw && typeof raw === 'object') {
    for (const k of Object.keys(raw)) {
      const m = /^filter\[(.*)\]$/.exec(k) ?? /^filter\.(.*)$/.exec(k);
      if (k.startsWith('filter') && (!m || !(DIMS as readonly string[]).includes(m[1]!))) {
        throw badRequest('INVALID_FIELD', `query parameter "${k}" is not a filter; use filter[<dim>]=value with dim one of ${DIMS.join(', ')}`, k);
      }
    }
  }
  const out: Partial<Record<Dim, string[]>> = {};
  for (const d of DIMS) {
    const v = query[`filter[${d}]`];
    if (v === undefined) continue;
    const vals = (Array.isArray(v) ? v : [v]).flatMap((s) => String(s).split(',')).filter((s) => s !== '');
    if (vals.length) out[d] = vals;
  }
  return out;
}
