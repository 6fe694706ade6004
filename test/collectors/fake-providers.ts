import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for the OpenAI and Anthropic admin report endpoints on 127.0.0.1: answers are
 * the documented JSON (pretty-printed as the providers' docs show it), pages chained by
 * next_page, and scripted failures (429 with Retry-After, 500, a hang for the timeout).
 */
export type Failure = { status: 429 | 500 | 503; retryAfter?: string } | 'hang';

export interface FakeProvider {
  url: string;
  /** path → pages (page token null for the first; each page's next_page names the next). */
  routes: Map<string, unknown[]>;
  failures: Failure[];
  requests: Array<{ path: string; query: URLSearchParams; headers: http.IncomingHttpHeaders }>;
  close(): Promise<void>;
}

export async function fakeProvider(expectKey: (h: http.IncomingHttpHeaders, u: URL) => boolean): Promise<FakeProvider> {
  const routes = new Map<string, unknown[]>();
  const failures: Failure[] = [];
  const requests: FakeProvider['requests'] = [];
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const u = new URL(req.url!, 'http://127.0.0.1');
    requests.push({ path: u.pathname, query: u.searchParams, headers: req.headers });
    const f = failures.shift();
    if (f === 'hang') {
      hanging.add(res);
      return;
    }
    if (f) {
      res.writeHead(f.status, { 'content-type': 'application/json', ...(f.retryAfter ? { 'retry-after': f.retryAfter } : {}) });
      return res.end(JSON.stringify({ error: { message: f.status === 429 ? 'Rate limit reached' : 'The server had an error', type: f.status === 429 ? 'rate_limit_error' : 'server_error' } }));
    }
    if (!expectKey(req.headers, u)) {
      res.writeHead(401, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ error: { message: 'Invalid API key', type: 'authentication_error' } }));
    }
    const pages = routes.get(u.pathname);
    if (!pages) {
      res.writeHead(404, { 'content-type': 'application/json' });
      return res.end('{"error":{"message":"not found"}}');
    }
    const page = u.searchParams.get('page');
    const i = page ? Number(page.replace(/^page_/, '')) : 0;
    // Only the buckets inside the asked range, as the providers answer.
    const q = u.searchParams;
    const lo = q.get('start_time') ? Number(q.get('start_time')) * 1000 : Date.parse(q.get('starting_at') ?? '1970-01-01T00:00:00Z');
    const hi = q.get('end_time') ? Number(q.get('end_time')) * 1000 : q.get('ending_at') ? Date.parse(q.get('ending_at')!) : Infinity;
    const p = pages[i] as { data: Array<{ start_time?: number; starting_at?: string }> };
    const data = p.data.filter((b) => {
      const t = b.start_time !== undefined ? b.start_time * 1000 : Date.parse(b.starting_at!);
      return t >= lo && t < hi;
    });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ...p, data }, null, 2));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    routes,
    failures,
    requests,
    async close() {
      for (const r of hanging) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Chains pages: each gets has_more/next_page pointing at the next ("page_<n>"). */
export function paged(pages: Array<{ data: unknown[] }>, extra: Record<string, unknown> = {}): unknown[] {
  return pages.map((p, i) => ({ ...extra, data: p.data, has_more: i < pages.length - 1, next_page: i < pages.length - 1 ? `page_${i + 1}` : null }));
}

/** 2026-01-09T00:00:00Z and the day after, as the OpenAI usage API's unix seconds. */
export const D9 = 1767916800;
export const D10 = D9 + 86400;

/** One row of OpenAI's completions usage report, zero except what `r` sets. */
export const openaiUsage = (r: Record<string, unknown>) => ({
  object: 'organization.usage.completions.result',
  input_tokens: 0,
  output_tokens: 0,
  input_cached_tokens: 0,
  input_audio_tokens: 0,
  output_audio_tokens: 0,
  num_model_requests: 0,
  project_id: null,
  user_id: null,
  api_key_id: null,
  model: null,
  batch: null,
  ...r,
});
