import type { ReactNode } from 'react';
import type { UseQueryResult } from '@tanstack/react-query';
import { ApiError } from './api/client.ts';

/** Loading, error and empty states in words, then the content. */
export function Loadable<T>({ q, what, empty, children }: { q: UseQueryResult<T>; what: string; empty?: (d: T) => boolean; children: (d: T) => ReactNode }) {
  if (q.isPending) return <p className="state loading" role="status">Loading {what}…</p>;
  if (q.isError) return <ErrorState what={what} error={q.error} />;
  if (empty?.(q.data as T)) return <p className="state empty">No {what} for these filters and this range.</p>;
  return <>{children(q.data as T)}</>;
}

export function ErrorState({ what, error }: { what: string; error: unknown }) {
  const e = error as Error;
  if (e instanceof ApiError && e.status === 404 && e.code === 'ROUTE_NOT_FOUND') return <NotAvailable what={what} />;
  return (
    <p className="state error" role="alert">
      Could not load {what}: {e?.message ?? String(e)}
      {e instanceof ApiError ? ` (${e.code})` : ''}
    </p>
  );
}

export function NotAvailable({ what }: { what: string }) {
  return <p className="state unavailable">{what[0]!.toUpperCase() + what.slice(1)}: not available on this server (its API is not installed yet).</p>;
}

export function Section({ title, children, actions, id }: { title: string; children: ReactNode; actions?: ReactNode; id?: string }) {
  return (
    <section className="panel" id={id} aria-label={title}>
      <header>
        <h2>{title}</h2>
        {actions ? <div className="actions">{actions}</div> : null}
      </header>
      {children}
    </section>
  );
}

export function Stat({ label, value, sub, testid }: { label: string; value: ReactNode; sub?: ReactNode; testid?: string }) {
  return (
    <div className="stat" data-testid={testid}>
      <div className="label">{label}</div>
      <div className="value">{value}</div>
      {sub ? <div className="sub">{sub}</div> : null}
    </div>
  );
}

export function Table({ columns, rows, testid, caption }: { columns: Array<{ key: string; label: string; num?: boolean }>; rows: Array<Record<string, ReactNode>>; testid?: string; caption?: string }) {
  return (
    <div className="table-wrap">
      <table data-testid={testid}>
        {caption ? <caption>{caption}</caption> : null}
        <thead>
          <tr>{columns.map((c) => <th key={c.key} className={c.num ? 'num' : undefined}>{c.label}</th>)}</tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={i}>{columns.map((c) => <td key={c.key} className={c.num ? 'num' : undefined}>{r[c.key]}</td>)}</tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function Level({ level }: { level: string }) {
  return <span className={`level level-${level}`}>{level}</span>;
}
