/**
 * The one rule for every string Tollgate stores (events, query parameters, request bodies):
 * PostgreSQL refuses NUL and unpaired surrogates, so they are found (with where) before a write,
 * and nesting is bounded so no walk or serialisation can exhaust the stack.
 */

// In a /u regex a well-formed surrogate pair is one code point: \p{Cs} matches only unpaired halves.
const UNSTORABLE = /[\u0000\p{Cs}]/u;
const UNSTORABLE_ALL = /[\u0000\p{Cs}]/gu;

/**
 * Why a string cannot be stored, or undefined. PostgreSQL's text and jsonb refuse NUL (U+0000)
 * and unpaired UTF-16 surrogates (no UTF-8 form): such a string failed its whole batch with 500
 * (issue 13). Every other code point, any length, is fine.
 */
export function unstorableReason(s: string): string | undefined {
  if (!UNSTORABLE.test(s)) return undefined;
  if (s.includes('\u0000')) return 'contains a NUL character (U+0000), which cannot be stored';
  return 'contains an unpaired UTF-16 surrogate (not valid Unicode), which cannot be stored';
}

/** How deep `data` may nest objects and arrays (docs/foundation.md: input limits). */
export const MAX_DATA_DEPTH = 32;

export interface Unstorable {
  /** Where: `id`, `data.a.b`, `data.items.3`, or the object holding a bad key. */
  param: string;
  message: string;
}

/** A container being walked: its parent chain gives the path, built only when something fails. */
interface Frame {
  v: object;
  parent: Frame | undefined;
  key: string;
  depth: number;
}

function pathOf(f: Frame | undefined, root: string, key?: string): string {
  const parts: string[] = key === undefined ? [] : [key];
  for (let x = f; x && x.parent; x = x.parent) parts.push(x.key);
  parts.push(root);
  return parts.filter(Boolean).reverse().join('.');
}

const shownKey = (k: string) => JSON.stringify(k.length > 40 ? k.slice(0, 40) + '…' : k);

/**
 * The first string (value or object key, at any depth) that cannot be stored, or the first
 * container nested deeper than `maxDepth` (the root is depth 0). Iterative: a 100,000-deep value
 * cannot exhaust the stack here. `root` prefixes paths ('' for an event's envelope: `id`,
 * `data.model`); `label` names the root itself (a bad key at the top: `event`, `body`).
 */
export function findUnstorable(value: unknown, root: string, maxDepth: number, label = root || 'value'): Unstorable | undefined {
  if (typeof value === 'string') {
    const why = unstorableReason(value);
    return why ? { param: root || label, message: why } : undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  const stack: Frame[] = [{ v: value, parent: undefined, key: root, depth: 0 }];
  while (stack.length) {
    const f = stack.pop()!;
    if (f.depth > maxDepth) {
      return { param: pathOf(f, root), message: `nests objects and arrays deeper than ${maxDepth} levels` };
    }
    if (Array.isArray(f.v)) {
      const a = f.v as unknown[];
      for (let i = 0; i < a.length; i++) {
        const x = a[i];
        if (typeof x === 'string') {
          const why = unstorableReason(x);
          if (why) return { param: pathOf(f, root, String(i)), message: why };
        } else if (x !== null && typeof x === 'object') stack.push({ v: x, parent: f, key: String(i), depth: f.depth + 1 });
      }
    } else {
      const o = f.v as Record<string, unknown>;
      for (const k in o) {
        const kwhy = unstorableReason(k);
        if (kwhy) return { param: pathOf(f, root) || label, message: `has a key ${shownKey(k)} that ${kwhy}` };
        const x = o[k];
        if (typeof x === 'string') {
          const why = unstorableReason(x);
          if (why) return { param: pathOf(f, root, k), message: why };
        } else if (x !== null && typeof x === 'object') stack.push({ v: x, parent: f, key: k, depth: f.depth + 1 });
      }
    }
  }
  return undefined;
}

/** A string made storable: NUL and unpaired surrogates become U+FFFD (for reasons and kept rejects). */
export const storableString = (s: string): string => (UNSTORABLE.test(s) ? s.replace(UNSTORABLE_ALL, '\uFFFD') : s);

/**
 * A copy of any JSON value that PostgreSQL's jsonb takes: strings and keys made storable, nesting
 * below `maxDepth` replaced by a marker. For keeping rejected events, whatever they held.
 */
export function storableJson(value: unknown, maxDepth = MAX_DATA_DEPTH + 2): unknown {
  const copy = (v: unknown, depth: number): unknown => {
    if (typeof v === 'string') return storableString(v);
    if (v === null || typeof v !== 'object') return typeof v === 'number' && !Number.isFinite(v) ? null : v;
    if (depth >= maxDepth) return '[nested too deeply: not kept]';
    if (Array.isArray(v)) return v.map((x) => copy(x, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[storableString(k)] = copy(x, depth + 1);
    return out;
  };
  return copy(value, 0);
}
