import { useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { call } from './api/client.ts';
import type { TopResponse } from './api/types.ts';
import { useFilters, type Filters } from './filters.tsx';
import { useSession } from './session.tsx';
import { isValidZone } from './time.ts';

const ZONES = ['UTC', 'Asia/Seoul', 'Asia/Tokyo', 'Asia/Kolkata', 'Asia/Kathmandu', 'Europe/London', 'Europe/Berlin', 'America/New_York', 'America/Los_Angeles', 'Australia/Sydney'];

/** Values of a dimension seen in the range (for the team / provider / model pickers). */
function useValues(by: string) {
  const { range, filters } = useFilters();
  return useQuery({
    queryKey: ['values', by, range.from, range.to, filters.tz],
    queryFn: () => call<TopResponse>('GET', '/v1/usage/top', { query: { by, measure: 'cost', limit: 100, from: range.from, to: range.to, tz: filters.tz } }),
    select: (d) => d.rows.map((r) => String(r[by] ?? '')).filter(Boolean).sort(),
    staleTime: 300_000,
  });
}

function Picker({ name, label, value, values, onChange }: { name: string; label: string; value?: string; values: string[]; onChange(v?: string): void }) {
  const all = value && !values.includes(value) ? [value, ...values] : values;
  return (
    <label>
      {label}
      <select name={name} value={value ?? ''} onChange={(e) => onChange(e.target.value || undefined)}>
        <option value="">All</option>
        {all.map((v) => <option key={v} value={v}>{v}</option>)}
      </select>
    </label>
  );
}

export function FilterBar() {
  const { filters, setFilters, range } = useFilters();
  const session = useSession();
  const [tz, setTz] = useState(filters.tz);
  const teams = useValues('team');
  const providers = useValues('provider');
  const models = useValues('model');
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
        <Picker name="team" label="Team" value={filters.team} values={teams.data ?? []} onChange={(v) => set({ team: v })} />
      )}
      <Picker name="provider" label="Provider" value={filters.provider} values={providers.data ?? []} onChange={(v) => set({ provider: v })} />
      <Picker name="model" label="Model" value={filters.model} values={models.data ?? []} onChange={(v) => set({ model: v })} />
      <span className="range-note" data-testid="range-note">
        {range.from.slice(0, 10)} → {range.to.slice(0, 10)} (to exclusive), {filters.tz}
      </span>
    </form>
  );
}
