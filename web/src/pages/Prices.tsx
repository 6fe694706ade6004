import { useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, call } from '../api/client.ts';
import { useFilters } from '../filters.tsx';
import { useCanWrite } from '../session.tsx';
import { Loadable, Section, Table } from '../ui.tsx';
import { day, num } from '../format.ts';

/** /v1/prices has no response schema in the OpenAPI document yet: its shape, from src/pricing/routes.ts. */
interface PriceRow {
  provider: string;
  region: string;
  model: string;
  name?: string;
  source: string;
  origin?: string;
  effective_from: string | null;
  prices: Record<string, unknown>;
  note?: string | null;
}
interface PricesResponse {
  source: Record<string, unknown>;
  total: number;
  overrides: PriceRow[];
  data: PriceRow[];
}
interface UnpricedResponse {
  data: Array<{ provider: string; model: string; region: string | null; events: string | number; input_tokens: string | number; output_tokens: string | number; first_seen: string; last_seen: string }>;
  hint?: string;
}

const rate = (v: unknown) => (v === undefined || v === null ? '—' : `$${v}`);
const PAGE = 100;

/**
 * Reprice stored llm.usage events over the filter bar's range (the unpriced ones, or all of them):
 * after an override or a newer catalog, past events follow. Admin keys only.
 */
function Reprice() {
  const qc = useQueryClient();
  const { range, filters } = useFilters();
  const [all, setAll] = useState(false);
  const m = useMutation({
    mutationFn: () => api.post('/v1/prices/reprice', { body: { from: range.from, to: range.to, all } }),
    // Costs changed: every usage read is stale.
    onSuccess: () => qc.invalidateQueries({ predicate: (q) => q.queryKey[0] !== 'session' && q.queryKey[0] !== 'prices' }),
  });
  return (
    <Section title="Reprice stored events">
      <form className="inline-form" aria-label="Reprice stored events" onSubmit={(e) => { e.preventDefault(); m.mutate(); }}>
        <span className="note">
          {range.from.slice(0, 10)} → {range.to.slice(0, 10)} (the filter bar's range, {filters.tz}, to exclusive)
        </span>
        <label className="check"><input type="checkbox" name="reprice-all" checked={all} onChange={(e) => setAll(e.target.checked)} />All events (not only the unpriced ones)</label>
        <button type="submit" disabled={m.isPending}>{m.isPending ? 'Repricing…' : 'Reprice'}</button>
        {m.isError ? <span className="state error" role="alert">{(m.error as Error).message}</span> : null}
        {m.data ? (
          <span className="note" role="status" data-testid="reprice-result">
            Repriced: {num(m.data.scanned)} of {num(m.data.total)} events read, {num(m.data.updated)} changed, {num(m.data.priced)} now priced, {num(m.data.still_unpriced)} still unpriced.
          </span>
        ) : null}
      </form>
    </Section>
  );
}

export default function Prices() {
  const qc = useQueryClient();
  const canWrite = useCanWrite();
  const { filters, range } = useFilters();
  const [page, setPage] = useState(0);
  const [search, setSearch] = useState('');
  const provider = filters.provider;
  const catalog = useQuery({ queryKey: ['prices', provider, page], queryFn: () => call<PricesResponse>('GET', '/v1/prices', { query: { provider, limit: search ? 2000 : PAGE, offset: search ? 0 : page * PAGE } }) });
  const unpriced = useQuery({ queryKey: ['unpriced', range.from, range.to], queryFn: () => call<UnpricedResponse>('GET', '/v1/prices/unpriced', { query: { from: range.from, to: range.to, limit: 100 } }) });
  const [o, setO] = useState({ provider: '', model: '', input: '', output: '', cache_read: '', note: '' });
  const put = useMutation({
    mutationFn: () => api.put('/v1/prices', { body: { provider: o.provider, model: o.model, input: o.input, output: o.output, ...(o.cache_read ? { cache_read: o.cache_read } : {}), ...(o.note ? { note: o.note } : {}) } }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['prices'] }),
  });
  const rowsOf = (rows: PriceRow[]) =>
    rows.map((p) => ({
      provider: p.provider,
      model: p.name && p.name !== p.model ? `${p.model} (${p.name})` : p.model,
      region: p.region,
      input: rate(p.prices.input),
      output: rate(p.prices.output),
      cache_read: rate(p.prices.cache_read),
      cache_write: rate(p.prices.cache_write),
      from: p.effective_from ? day(p.effective_from) : '—',
      source: p.source === 'override' ? `override (${p.origin})${p.note ? `: ${p.note}` : ''}` : String(p.source),
    }));
  const cols = [
    { key: 'provider', label: 'Provider' },
    { key: 'model', label: 'Model' },
    { key: 'region', label: 'Region' },
    { key: 'input', label: 'Input / 1M', num: true },
    { key: 'output', label: 'Output / 1M', num: true },
    { key: 'cache_read', label: 'Cache read / 1M', num: true },
    { key: 'cache_write', label: 'Cache write / 1M', num: true },
    { key: 'from', label: 'Effective from' },
    { key: 'source', label: 'Source' },
  ];
  return (
    <div className="prices">
      <Section title="Unpriced models (kept, flagged, repriced once a price exists)">
        <Loadable q={unpriced} what="unpriced models" empty={(d) => d.data.length === 0}>
          {(d) => (
            <>
              <Table
                testid="unpriced-table"
                columns={[{ key: 'provider', label: 'Provider' }, { key: 'model', label: 'Model' }, { key: 'events', label: 'Events', num: true }, { key: 'tokens', label: 'Tokens (in + out)', num: true }, { key: 'seen', label: 'Seen' }]}
                rows={d.data.map((u) => ({ provider: u.provider, model: u.model, events: num(u.events), tokens: num(Number(u.input_tokens) + Number(u.output_tokens)), seen: `${day(u.first_seen)} → ${day(u.last_seen)}` }))}
              />
              {d.hint ? <p className="note">{d.hint}</p> : null}
            </>
          )}
        </Loadable>
      </Section>
      <Section title="Overrides">
        <Loadable q={catalog} what="overrides" empty={(d) => d.overrides.length === 0}>
          {(d) => <Table testid="overrides-table" columns={cols} rows={rowsOf(d.overrides)} />}
        </Loadable>
        {canWrite ? (
          <form className="inline-form" aria-label="Set a price override" onSubmit={(e) => { e.preventDefault(); put.mutate(); }}>
            <label>Provider<input name="ovr-provider" value={o.provider} onChange={(e) => setO({ ...o, provider: e.target.value })} /></label>
            <label>Model<input name="ovr-model" value={o.model} onChange={(e) => setO({ ...o, model: e.target.value })} /></label>
            <label>Input USD / 1M<input name="ovr-input" inputMode="decimal" value={o.input} onChange={(e) => setO({ ...o, input: e.target.value })} /></label>
            <label>Output USD / 1M<input name="ovr-output" inputMode="decimal" value={o.output} onChange={(e) => setO({ ...o, output: e.target.value })} /></label>
            <label>Cache read USD / 1M<input name="ovr-cache-read" inputMode="decimal" value={o.cache_read} onChange={(e) => setO({ ...o, cache_read: e.target.value })} /></label>
            <label>Note<input name="ovr-note" value={o.note} onChange={(e) => setO({ ...o, note: e.target.value })} /></label>
            <button type="submit" disabled={put.isPending || !o.provider || !o.model}>Save override</button>
            {put.isError ? <span className="state error" role="alert">{(put.error as Error).message}</span> : null}
            {put.isSuccess ? <span className="note" role="status">Saved. Reprice past events below to apply it to them.</span> : null}
          </form>
        ) : null}
      </Section>
      {canWrite ? <Reprice /> : null}
      <Section
        title="Catalog (USD per 1M tokens, in force now)"
        actions={<label>Search<input name="price-search" value={search} placeholder="model name" onChange={(e) => setSearch(e.target.value)} /></label>}
      >
        <Loadable q={catalog} what="the catalog" empty={(d) => d.data.length === 0}>
          {(d) => {
            const rows = search ? d.data.filter((p) => `${p.provider} ${p.model} ${p.name ?? ''}`.toLowerCase().includes(search.toLowerCase())) : d.data;
            return (
              <>
                <Table testid="catalog-table" columns={cols} rows={rowsOf(rows)} />
                {!search ? (
                  <p className="inline-form">
                    <button className="secondary" disabled={page === 0} onClick={() => setPage(page - 1)}>Previous</button>
                    <span className="note">{page * PAGE + 1}–{Math.min(d.total, (page + 1) * PAGE)} of {d.total}{provider ? ` (provider ${provider})` : ''}</span>
                    <button className="secondary" disabled={(page + 1) * PAGE >= d.total} onClick={() => setPage(page + 1)}>Next</button>
                  </p>
                ) : <p className="note">{rows.length} matching models.</p>}
              </>
            );
          }}
        </Loadable>
      </Section>
    </div>
  );
}
