import type { Paths } from './schema.gen.ts';

/** The one error shape every /v1 failure answers with. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
type PathsWith<M extends Method> = { [P in keyof Paths]: M extends keyof Paths[P] ? P : never }[keyof Paths];
type Op<P extends keyof Paths, M extends Method> = M extends keyof Paths[P] ? Paths[P][M] : never;
type Field<O, K extends string> = O extends Record<K, infer T> ? T : never;
export type Response<P extends keyof Paths, M extends Method = 'get'> = Field<Op<P, M>, 'response'>;
export type Query = Record<string, string | number | boolean | undefined | null | string[]>;

export interface CallOptions<B> {
  params?: Record<string, string>;
  query?: Query;
  body?: B;
}

/** Listeners told when the session is gone (401): the app shows the sign-in form. */
export const onSignedOut = new Set<() => void>();

export function buildUrl(path: string, params: Record<string, string> = {}, query: Query = {}): string {
  const p = path.replace(/\{(\w+)\}/g, (_m, k: string) => encodeURIComponent(params[k] ?? ''));
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue;
    for (const one of Array.isArray(v) ? v : [v]) qs.append(k, String(one));
  }
  const s = qs.toString();
  return s ? `${p}?${s}` : p;
}

/**
 * Calls the API with the session cookie. Writes carry `x-tollgate-csrf: 1`, which the server
 * requires of every cookie-authenticated write (a cross-site form cannot set a custom header).
 */
export async function call<T>(method: string, path: string, o: CallOptions<unknown> = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET') headers['x-tollgate-csrf'] = '1';
  if (o.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(buildUrl(path, o.params, o.query), {
    method,
    headers,
    credentials: 'same-origin',
    body: o.body === undefined ? undefined : JSON.stringify(o.body),
  });
  const text = await res.text();
  let body: any = undefined;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = text;
  }
  if (!res.ok) {
    const e = body?.error ?? {};
    if (res.status === 401 && path !== '/v1/session') for (const fn of onSignedOut) fn();
    throw new ApiError(res.status, e.type ?? 'error', e.code ?? String(res.status), e.message ?? `${method} ${path} failed with ${res.status}`);
  }
  return body as T;
}

/** Typed from the OpenAPI document (schema.gen.ts). */
export const api = {
  get: <P extends PathsWith<'get'>>(path: P, o: CallOptions<never> = {}) => call<Response<P, 'get'>>('GET', path, o),
  post: <P extends PathsWith<'post'>>(path: P, o: CallOptions<Field<Op<P, 'post'>, 'body'>> = {}) => call<Response<P, 'post'>>('POST', path, o),
  put: <P extends PathsWith<'put'>>(path: P, o: CallOptions<Field<Op<P, 'put'>, 'body'>> = {}) => call<Response<P, 'put'>>('PUT', path, o),
  patch: <P extends PathsWith<'patch'>>(path: P, o: CallOptions<Field<Op<P, 'patch'>, 'body'>> = {}) => call<Response<P, 'patch'>>('PATCH', path, o),
  delete: <P extends PathsWith<'delete'>>(path: P, o: CallOptions<never> = {}) => call<Response<P, 'delete'>>('DELETE', path, o),
};
