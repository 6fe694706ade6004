import { ApiError } from '../shared/errors.ts';
import { BINDING_FIELDS, type Binding } from './keys.ts';

/**
 * The one binding rule. A key bound to a subject, team and/or project reads only rows with those
 * values and writes only rows with those values (filling them in when the write leaves them out).
 * Every route and service that reads or writes attributed rows goes through these functions, so a
 * new domain cannot get the rule subtly different.
 */
export type BindingField = (typeof BINDING_FIELDS)[number];
type Bindable = Partial<Binding> | null | undefined;

export function bindingOf(p: Bindable): Binding {
  return { subject: p?.subject ?? null, team: p?.team ?? null, project: p?.project ?? null };
}

const boundKey = (message: string, param?: string) => new ApiError({ type: 'permission_denied', code: 'BOUND_KEY', message, param });

export interface ScopeReadOptions {
  /**
   * The fields this read can filter on (default: all three). A binding on a field it cannot filter
   * leaves nothing it could safely return, so the read is refused.
   */
  dims?: readonly string[];
  /** What is being read, for that refusal ("meter \"video_minutes\""). */
  what?: string;
  /** How the caller names a filter (default `filter[team]`). */
  param?: (field: BindingField) => string;
}

/**
 * Read: each bound field becomes the only value of its filter. Asking for another value is refused
 * (never silently narrowed: the caller would read a wrong total as if it were theirs).
 */
export function scopeRead<F extends Partial<Record<string, string[]>>>(p: Bindable, filters: F, opts: ScopeReadOptions = {}): F {
  const out: Partial<Record<string, string[]>> = { ...filters };
  for (const f of BINDING_FIELDS) {
    const bound = p?.[f];
    if (!bound) continue;
    if (opts.dims && !opts.dims.includes(f)) {
      throw boundKey(`this key is bound to ${f} "${bound}" and ${opts.what ?? 'this data'} has no ${f} to limit it to`);
    }
    const asked = out[f];
    if (asked && asked.some((v) => v !== bound)) throw boundKey(`this key reads only ${f} "${bound}"`, (opts.param ?? ((x) => `filter[${x}]`))(f));
    out[f] = [bound];
  }
  return out as F;
}

/** A single-valued read (`?subject=`): the bound value, or the asked one when unbound; another value is refused. */
export function scopeReadOne(p: Bindable, field: BindingField, asked: string | undefined, param: string = field): string | undefined {
  const bound = p?.[field];
  if (!bound) return asked;
  if (asked !== undefined && asked !== bound) throw boundKey(`this key reads only ${field} "${bound}"`, param);
  return bound;
}

export type BindWriteResult<R> = { ok: true; row: R; stamped: BindingField[] } | { ok: false; field: BindingField; bound: string };

/**
 * Write: a bound field left empty (null/undefined) is stamped with the binding; a different value is
 * refused. `fields`: the fields this row carries (default all three). The row is copied, not changed.
 */
export function bindWrite<R extends Partial<Record<BindingField, string | null | undefined>>>(
  p: Bindable,
  row: R,
  fields: readonly BindingField[] = BINDING_FIELDS,
): BindWriteResult<R> {
  const out = { ...row };
  const stamped: BindingField[] = [];
  for (const f of fields) {
    const bound = p?.[f];
    if (!bound) continue;
    const v = out[f];
    if (v === null || v === undefined) {
      (out as Record<string, unknown>)[f] = bound;
      stamped.push(f);
    } else if (v !== bound) return { ok: false, field: f, bound };
  }
  return { ok: true, row: out, stamped };
}

/** `bindWrite` that throws the usual BOUND_KEY refusal naming the field (`param(field)`). */
export function bindWriteOrThrow<R extends Partial<Record<BindingField, string | null | undefined>>>(
  p: Bindable,
  row: R,
  opts: { fields?: readonly BindingField[]; param?: (field: BindingField) => string } = {},
): R {
  const r = bindWrite(p, row, opts.fields);
  if (!r.ok) throw boundKey(`this key acts only for ${r.field} "${r.bound}"`, (opts.param ?? ((f) => f))(r.field));
  return r.row;
}

/** Whether a bound key may see one attributed row (a field the row does not carry counts as not matching). */
export function canReadRow(p: Bindable, row: Partial<Binding>, fields: readonly BindingField[] = BINDING_FIELDS): boolean {
  return fields.every((f) => !p?.[f] || row[f] === p[f]);
}

/** Rows that are global settings (rules, channels): a bound key may not touch them at all. */
export function requireUnbound(p: Bindable, why: string): void {
  if (BINDING_FIELDS.some((f) => p?.[f])) throw boundKey(why);
}
