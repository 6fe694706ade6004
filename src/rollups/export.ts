import { createHmac, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { z } from 'zod';
import { stringify } from 'csv-stringify/sync';
import type { App } from '../http/server.ts';
import type { Queryable } from '../shared/db/index.ts';
import { requireScope } from '../http/auth.ts';
import type { KeyService } from '../auth/service.ts';
import type { EventStore, ListedEvent } from '../events/store.ts';
import { formatInZone } from '../shared/time.ts';
import { moneyString } from '../shared/money.ts';
import { badRequest } from '../shared/errors.ts';
import { COUNT_MEASURES, DIMS, type Dim } from './cubes.ts';
import { checkRange, reportWindows, type RollupService, type UsageParams, type Binding } from './service.ts';
import { getOrCreateSetting } from './maintenance-store.ts';
import { filterShape, filtersOf, groupByParam, rfc3339, tzParam, windowParam } from './params.ts';
import { rawQueryKeys } from './routes.ts';
import { bindingOf, scopeRead } from '../auth/binding.ts';

/** Keyed hash of a subject: stable within one deployment, not reversible without the key. */
export function anonymize(key: string, subject: string | null): string | null {
  if (subject === null) return null;
  return 'anon_' + createHmac('sha256', key).update(subject, 'utf8').digest('hex').slice(0, 32);
}

let cachedKey: Promise<string> | undefined;
export function anonymizeKey(db: Queryable): Promise<string> {
  // The key lives in rollup_settings, created on first use; cached per process after that.
  cachedKey ??= getOrCreateSetting(db, 'anonymize_key', () => randomBytes(32).toString('hex')).catch((e) => {
    cachedKey = undefined;
    throw e;
  });
  return cachedKey;
}

const EVENT_COLUMNS = [
  'id', 'source', 'type', 'subject', 'time', ...DIMS.filter((d) => d !== 'subject'),
  'input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_write_tokens', 'reasoning_tokens', 'cost', 'cost_source', 'unpriced', 'estimated',
] as const;

const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);
const int = (v: unknown) => (typeof v === 'number' ? v : null);

function eventRecord(e: ListedEvent, tz: string): Record<(typeof EVENT_COLUMNS)[number], unknown> {
  const d = (e.data && typeof e.data === 'object' ? e.data : {}) as Record<string, unknown>;
  const cw = int(d.cache_write_tokens) ?? (d.cache_write_5m_tokens !== undefined || d.cache_write_1h_tokens !== undefined ? (int(d.cache_write_5m_tokens) ?? 0) + (int(d.cache_write_1h_tokens) ?? 0) : null);
  return {
    id: e.id,
    source: e.source,
    type: e.type,
    subject: e.subject,
    time: formatInZone(tz, new Date(e.time)),
    team: str(d.team),
    project: str(d.project),
    api_key: str(d.api_key),
    provider: str(d.provider),
    model: str(d.model),
    region: str(d.region),
    feature: str(d.feature),
    input_tokens: int(d.input_tokens),
    output_tokens: int(d.output_tokens),
    cache_read_tokens: int(d.cache_read_tokens) ?? (e.type === 'llm.usage' ? 0 : null),
    cache_write_tokens: cw ?? (e.type === 'llm.usage' ? 0 : null),
    reasoning_tokens: int(d.reasoning_tokens) ?? (e.type === 'llm.usage' ? 0 : null),
    cost: e.cost === null ? null : moneyString(e.cost),
    cost_source: e.cost_source,
    unpriced: e.unpriced,
    estimated: e.estimated,
  };
}

async function* eventRows(store: EventStore, q: { type: string; from: Date; to: Date; tz: string; filters: Partial<Record<Dim, string[]>> }) {
  const PAGE = 2000;
  const subj = q.filters.subject?.length === 1 ? q.filters.subject[0] : undefined;
  const team = q.filters.team?.length === 1 ? q.filters.team[0] : undefined;
  let after: { time: Date; seq: string } | undefined;
  for (;;) {
    const page = await store.list({ type: q.type, subject: subj, team, from: q.from, to: q.to, limit: PAGE, after });
    const out = [];
    for (const e of page) {
      const rec = eventRecord(e, q.tz);
      const keep = (Object.entries(q.filters) as Array<[Dim, string[]]>).every(([dim, vals]) => !vals?.length || vals.includes(rec[dim] as string));
      if (keep) out.push({ rec, data: e.data });
    }
    if (out.length) yield out;
    if (page.length < PAGE) return;
    const last = page[page.length - 1]!;
    after = { time: new Date(last.time), seq: String(last.seq) };
  }
}

export function registerExportRoutes(app: App, deps: { keys: KeyService; rollups: RollupService; db: Queryable; events?: EventStore; defaultTz: string }) {
  app.get(
    '/v1/export',
    {
      preHandler: requireScope(deps.keys, 'read'),
      schema: {
        tags: ['usage'],
        summary: 'Stream usage rows (kind=usage, from rollups) or raw events (kind=events) as CSV or NDJSON',
        description:
          'Same from/to/tz/window/group_by/filter[…] as /v1/usage. kind=events streams raw events newest first (type defaults to llm.usage; ' +
          'raw events exist only within retention). anonymize=true replaces subjects with a keyed HMAC-SHA256 (stable per deployment) and drops event data.',
        querystring: z.object({
          format: z.enum(['csv', 'ndjson']).default('ndjson'),
          kind: z.enum(['usage', 'events']).default('usage'),
          anonymize: z.enum(['true', 'false', '1', '0']).default('false').transform((v) => v === 'true' || v === '1'),
          type: z.string().min(1).default('llm.usage'),
          from: rfc3339('from'),
          to: rfc3339('to'),
          tz: tzParam(deps.defaultTz),
          window: windowParam.default('day'),
          group_by: groupByParam,
          ...filterShape,
        }),
      },
    },
    async (req, reply) => {
      const q = req.query;
      const bind: Binding = bindingOf(req.principal);
      const filters = filtersOf(q, rawQueryKeys(req));
      const key = q.anonymize ? await anonymizeKey(deps.db) : undefined;
      const anon = (s: unknown) => (key ? anonymize(key, (s as string | null) ?? null) : s);
      let header: string[];
      let source: AsyncGenerator<Array<Record<string, unknown>>>;
      if (q.kind === 'usage') {
        const p: UsageParams = { from: q.from, to: q.to, tz: q.tz, window: q.window, groupBy: q.group_by, filters };
        // Validate before the first byte goes out, so a bad request still gets a JSON error.
        checkRange(p.from, p.to);
        scopeRead(bind, filters);
        reportWindows(p.tz, p.window, p.from, p.to);
        header = ['window_start', 'window_end', ...p.groupBy, ...COUNT_MEASURES, 'cost'];
        source = (async function* () {
          for await (const chunk of deps.rollups.usageChunks(p, bind)) {
            yield chunk.map((r) => ('subject' in r ? { ...r, subject: anon(r.subject) } : r) as Record<string, unknown>);
          }
        })();
      } else {
        if (!deps.events) throw new Error('export of raw events needs the event store');
        if (!(q.from.getTime() < q.to.getTime())) throw badRequest('INVALID_FIELD', 'from must be before to', 'from');
        const bf = scopeRead(bind, filters);
        header = [...EVENT_COLUMNS];
        const store = deps.events;
        source = (async function* () {
          for await (const chunk of eventRows(store, { type: q.type, from: q.from, to: q.to, tz: q.tz, filters: bf })) {
            yield chunk.map(({ rec, data }) =>
              q.format === 'ndjson' && !key ? { ...rec, data } : { ...rec, subject: anon(rec.subject) },
            );
          }
        })();
      }
      const csv = q.format === 'csv';
      const body = Readable.from(
        (async function* () {
          if (csv) yield stringify([header]);
          for await (const rows of source) {
            if (csv) yield stringify(rows.map((r) => header.map((h) => (r[h] === null || r[h] === undefined ? '' : String(r[h])))));
            else yield rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
          }
        })(),
      );
      const ext = csv ? 'csv' : 'ndjson';
      reply
        .header('content-type', csv ? 'text/csv; charset=utf-8' : 'application/x-ndjson')
        .header('content-disposition', `attachment; filename="tollgate-${q.kind}.${ext}"`);
      return reply.send(body);
    },
  );
}
