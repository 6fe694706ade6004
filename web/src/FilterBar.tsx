import { useEffect, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { call } from './api/client.ts';
import type { TopResponse } from './api/types.ts';
import { useFilters, type Filters } from './filters.tsx';
import { useSession } from './session.tsx';
import { isValidZone } from './time.ts';

const ZONES = ['UTC', 'Asia/Seoul', 'Asia/Tokyo', 'Asia/Kolkata', 'Asia/Kathmandu', 'Europe/London', 'Europe/Berlin', 'America/New_York', 'America/Los_Angeles', 'Australia/Sydney'];

/**
 * Values of a dimension seen in the range (for the team / provider / model pickers), read only once
 * the bar is used (`wanted`): three /v1/usage/top reads on every page load queued ahead of the
 * page's own data on a one-connection store (PGlite) and delayed the overview's first render.
 */
function useValues(by: string, wanted: boolean) {
  const { range, filters } = useFilters();
  return useQuery({
    queryKey: ['values', by, range.from, range.to, filters.tz],
    enabled: wanted,
    queryFn: () => call<TopResponse>('GET', '/v1/usage/top', { query: { by, measure: 'cost', limit: 100, from: range.from, to: range.to, tz: filters.tz } }),
    select: (d) => d.rows.map((r) => String(r[by] ?? '')).filter(Boolean).sort(),
    staleTime: 300_000,
  });
}

function Picker({ name, label, value, values, loading, onChange, onOpen }: { name: string; label: string; value?: string; values: string[]; loading: boolean; onChange(v?: string): void; onOpen(): void }) {
  const all = value && !values.includes(value) ? [value, ...values] : values;
  return (
    <label>
      {label}
      <select name={name} value={value ?? ''} onChange={(e) => onChange(e.target.value || undefined)} onFocus={onOpen} onPointerDown={onOpen}>
        <option value="">All</option>
        {loading ? <option disabled>Loading…</option> : null}
        {all.map((v) => <option key={v} value={v}>{v}</option>)}
      </select>
    </label>
  );
}

export function FilterBar() {
  const { filters, setFilters, range } = useFilters();
  const session = useSession();
  const [tz, setTz] = useState(filters.tz);
  // Used, or 2 s after the page opened (its own data first): then the pickers' values are read.
  const [opened, setOpened] = useState(false);
  const open = () => setOpened(true);
  useEffect(() => {
    const t = setTimeout(open, 2000);
    return () => clearTimeout(t);
  }, []);
  const teams = useValues('team', opened);
  const providers = useValues('provider', opened);
  const models = useValues('model', opened);
  const set = (p: Partial<Filters>) => setFilters(p);
  return (
    <form className="filters" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
      <label>
        Range
        <select name="range" value={filters.range} onChange={(e) => set({ range: e.target.value as Filters['range'] })}>
          <option value="7d">Last 7 days</option>
          <option value="30d">Last 30 days</option>
          <option value="90d">Last 90 days</option>
          <option value="mtd">Month to date</option>
          <option value="custom">Custom</option>
        </select>
      </label>
      {filters.range === 'custom' ? (
        <>
          <label>
            From
            <input type="date" name="from" value={filters.from ?? ''} onChange={(e) => set({ from: e.target.value })} />
          </label>
          <label>
            To
            <input type="date" name="to" value={filters.to ?? ''} onChange={(e) => set({ to: e.target.value })} />
          </label>
        </>
      ) : null}
      <label>
        Zone
        <input
          name="tz"
          list="zones"
          value={tz}
          aria-invalid={!isValidZone(tz)}
          onChange={(e) => setTz(e.target.value)}
          onBlur={() => isValidZone(tz) && tz !== filters.tz && set({ tz })}
          onKeyDown={(e) => e.key === 'Enter' && isValidZone(tz) && set({ tz })}
        />
        <datalist id="zones">{ZONES.map((z) => <option key={z} value={z} />)}</datalist>
      </label>
      {session.team ? (
        <span className="bound">Team: {session.team}</span>
      ) : (
        <Picker name="team" label="Team" value={filters.team} values={teams.data ?? []} loading={teams.isFetching && !teams.data} onOpen={open} onChange={(v) => set({ team: v })} />
      )}
      <Picker name="provider" label="Provider" value={filters.provider} values={providers.data ?? []} loading={providers.isFetching && !providers.data} onOpen={open} onChange={(v) => set({ provider: v })} />
      <Picker name="model" label="Model" value={filters.model} values={models.data ?? []} loading={models.isFetching && !models.data} onOpen={open} onChange={(v) => set({ model: v })} />
      <span className="range-note" data-testid="range-note">
        {range.from.slice(0, 10)} → {range.to.slice(0, 10)} (to exclusive), {filters.tz}
      </span>
    </form>
  );
}
