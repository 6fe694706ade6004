import { useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api } from '../api/client.ts';
import { useCanWrite, useSession } from '../session.tsx';
import { Loadable, NotAvailable, Section, Table } from '../ui.tsx';
import { dateTime, num, usd } from '../format.ts';

const yesterdayUtc = () => new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);

export default function Collectors() {
  const qc = useQueryClient();
  const canWrite = useCanWrite();
  const session = useSession();
  const list = useQuery({ queryKey: ['collectors'], queryFn: () => api.get('/v1/collectors') });
  const [runDate, setRunDate] = useState(yesterdayUtc());
  const run = useMutation({ mutationFn: (name: string) => api.post('/v1/collectors/{name}/run', { params: { name }, body: { date: runDate } }), onSettled: () => qc.invalidateQueries({ queryKey: ['collectors'] }) });
  const [rec, setRec] = useState({ date: yesterdayUtc(), provider: 'openai' });
  const recon = useQuery({ queryKey: ['reconciliation', rec], enabled: session.features.reconciliation !== false, queryFn: () => api.get('/v1/reconciliation', { query: rec }) });
  return (
    <div className="collectors">
      <Section
        title="Collectors"
        actions={canWrite ? <label>Day to pull (UTC)<input type="date" name="run-date" value={runDate} onChange={(e) => setRunDate(e.target.value)} /></label> : undefined}
      >
        <Loadable q={list} what="collectors" empty={(d) => d.data.length === 0}>
          {(d) => (
            <Table
              testid="collectors-table"
              columns={[{ key: 'name', label: 'Collector' }, { key: 'enabled', label: 'Enabled' }, { key: 'schedule', label: 'Schedule' }, { key: 'lag', label: 'Data lag' }, { key: 'last', label: 'Last run (UTC)' }, { key: 'status', label: 'Status' }, { key: 'rows', label: 'Rows', num: true }, { key: 'next', label: 'Next run (UTC)' }, { key: 'run', label: '' }]}
              rows={d.data.map((c) => ({
                name: c.name,
                enabled: c.enabled ? 'yes' : 'no',
                schedule: `${c.schedule} (${c.tz})`,
                lag: c.data_lag,
                last: c.last_run ? `${dateTime(c.last_run.finished_at ?? c.last_run.started_at)} for ${c.last_run.window_from}` : 'never',
                status: (
                  <span title={c.last_error ?? undefined} className={c.last_status === 'failed' ? 'level level-critical' : c.last_status === 'ok' ? 'level' : undefined}>
                    {c.last_status ?? '—'}
                  </span>
                ),
                rows: num(c.rows),
                next: dateTime(c.next_run),
                run: canWrite ? <button className="secondary" disabled={run.isPending} onClick={() => run.mutate(c.name)}>Run now</button> : '',
              }))}
            />
          )}
        </Loadable>
        {list.data?.data.some((c) => c.last_error) ? (
          <ul className="note">{list.data.data.filter((c) => c.last_error).map((c) => <li key={c.name}>{c.name}: {c.last_error}</li>)}</ul>
        ) : null}
        {run.isPending ? <p className="state loading" role="status">Running…</p> : null}
        {run.isError ? <p className="state error" role="alert">Run failed: {(run.error as Error).message}</p> : null}
        {run.isSuccess ? <p className="note" role="status">Run {run.data.status}: {run.data.events} events, {run.data.duplicates} duplicates, {usd(run.data.cost, 2)} reported.</p> : null}
      </Section>
      <Section
        title="Reconciliation against the provider's report"
        actions={
          <>
            <label>Day (UTC)<input type="date" name="recon-date" value={rec.date} onChange={(e) => setRec({ ...rec, date: e.target.value })} /></label>
            <label>Provider<select name="recon-provider" value={rec.provider} onChange={(e) => setRec({ ...rec, provider: e.target.value })}><option>openai</option><option>anthropic</option></select></label>
          </>
        }
      >
        {session.features.reconciliation === false ? <NotAvailable what="reconciliation" /> : (
          <Loadable q={recon} what="the reconciliation" empty={(d) => d.rows.length === 0}>
            {(d) => (
              <Table
                testid="recon-table"
                caption={d.within_tolerance ? `Within tolerance (${d.tolerance * 100} %)` : `Differences beyond ${d.tolerance * 100} %`}
                columns={[{ key: 'model', label: 'Model' }, { key: 'rc', label: 'Recorded (USD)', num: true }, { key: 'pc', label: 'Reported (USD)', num: true }, { key: 'dc', label: 'Difference (USD)', num: true }, { key: 'rr', label: 'Recorded requests', num: true }, { key: 'pr', label: 'Reported requests', num: true }, { key: 'ok', label: '' }]}
                rows={d.rows.map((r) => ({ model: r.model, rc: usd(r.recorded.cost, 4), pc: usd(r.reported.cost, 4), dc: usd(r.difference.cost, 4), rr: num(r.recorded.requests), pr: num(r.reported.requests), ok: r.within_tolerance ? 'ok' : 'mismatch' }))}
              />
            )}
          </Loadable>
        )}
      </Section>
    </div>
  );
}
