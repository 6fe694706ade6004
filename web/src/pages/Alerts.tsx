import { useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api } from '../api/client.ts';
import { useFilters } from '../filters.tsx';
import { useCanWrite, useSession } from '../session.tsx';
import { Level, Loadable, NotAvailable, Section, Table } from '../ui.tsx';
import { dateTime, num } from '../format.ts';
import { describeCondition, RuleForm, type Rule } from './AlertRuleForm.tsx';

export default function Alerts() {
  const qc = useQueryClient();
  const canWrite = useCanWrite();
  const session = useSession();
  const { range } = useFilters();
  const rules = useQuery({ queryKey: ['alert-rules'], queryFn: () => api.get('/v1/alerts/rules') });
  const history = useQuery({ queryKey: ['alert-history', range.from, range.to], queryFn: () => api.get('/v1/alerts/history', { query: { from: range.from, to: range.to, limit: 200 } }) });
  const notes = useQuery({ queryKey: ['notifications'], enabled: session.features.notifications !== false, queryFn: () => api.get('/v1/notifications', { query: { limit: 100 } }) });
  const toggle = useMutation({ mutationFn: (r: { id: string; enabled: boolean }) => api.patch('/v1/alerts/rules/{id}', { params: { id: r.id }, body: { enabled: r.enabled } as never }), onSuccess: () => qc.invalidateQueries({ queryKey: ['alert-rules'] }) });
  const test = useMutation({ mutationFn: (id: string) => api.post('/v1/alerts/rules/{id}/test', { params: { id } }), onSuccess: () => qc.invalidateQueries({ queryKey: ['alert-history'] }) });
  // The rule being edited ('new': the create form); admin keys only.
  const [editing, setEditing] = useState<Rule | 'new' | null>(null);
  const read = useMutation({ mutationFn: (id: string) => api.post('/v1/notifications/{id}/read', { params: { id } }), onSuccess: () => qc.invalidateQueries({ queryKey: ['notifications'] }) });
  return (
    <div className="alerts">
      <Section
        title="Rules"
        actions={canWrite && editing === null ? <button onClick={() => setEditing('new')}>New rule</button> : undefined}
      >
        {canWrite && editing !== null ? <RuleForm key={editing === 'new' ? 'new' : editing.id} rule={editing === 'new' ? undefined : editing} onDone={() => setEditing(null)} /> : null}
        <Loadable q={rules} what="alert rules" empty={(d) => d.data.length === 0}>
          {(d) => (
            <Table
              testid="rules-table"
              columns={[{ key: 'name', label: 'Rule' }, { key: 'on', label: 'On' }, { key: 'condition', label: 'Condition' }, { key: 'channels', label: 'Channels' }, { key: 'dedup', label: 'Dedup', num: true }, { key: 'enabled', label: 'Enabled' }, { key: 'actions', label: '' }]}
              rows={d.data.map((r) => ({
                name: r.name,
                on: r.on,
                condition: describeCondition(r),
                channels: r.channels.map((c) => String(c.type)).join(', '),
                dedup: `${num(r.effective_dedup_window_s / 3600, 1)} h`,
                enabled: canWrite ? <input type="checkbox" aria-label={`enable ${r.name}`} checked={r.enabled} onChange={(e) => toggle.mutate({ id: r.id, enabled: e.target.checked })} /> : r.enabled ? 'yes' : 'no',
                actions: canWrite ? (
                  <span className="row-actions">
                    <button className="secondary" onClick={() => setEditing(r)} aria-label={`Edit ${r.name}`}>Edit</button>
                    <button className="secondary" onClick={() => test.mutate(r.id)}>Send test</button>
                  </span>
                ) : '',
              }))}
            />
          )}
        </Loadable>
        {test.isSuccess ? <p className="note">Test sent: {test.data.deliveries.map((x) => `${x.type} ${x.status}`).join(', ')}.</p> : null}
      </Section>
      <Section title="History">
        <Loadable q={history} what="alert history" empty={(d) => d.data.length === 0}>
          {(d) => (
            <Table
              testid="history-table"
              columns={[{ key: 'at', label: 'When (UTC)' }, { key: 'rule', label: 'Rule' }, { key: 'title', label: 'What' }, { key: 'level', label: 'Level' }, { key: 'value', label: 'Value', num: true }, { key: 'delivery', label: 'Delivery' }]}
              rows={d.data.map((f) => ({
                at: dateTime(f.occurred_at),
                rule: f.rule_name ?? f.rule_id,
                title: f.title ?? f.type,
                level: f.level ? <Level level={f.level} /> : '—',
                value: f.value !== null ? `${num(f.value, 2)}${f.threshold ? ` / ${num(f.threshold, 2)}` : ''}` : '—',
                delivery: f.deliveries.map((x) => `${x.type}: ${x.status}${x.attempts > 1 ? ` (${x.attempts} tries)` : ''}`).join(', ') || '—',
              }))}
            />
          )}
        </Loadable>
      </Section>
      <Section title="In-app notifications">
        {session.features.notifications === false ? <NotAvailable what="notifications" /> : (
          <Loadable q={notes} what="notifications" empty={(d) => d.data.length === 0}>
            {(d) => (
              <Table
                testid="notifications-table"
                columns={[{ key: 'at', label: 'When (UTC)' }, { key: 'who', label: 'For' }, { key: 'title', label: 'Title' }, { key: 'level', label: 'Level' }, { key: 'read', label: '' }]}
                rows={d.data.map((n) => ({
                  at: dateTime(n.created_at),
                  who: n.subject ?? n.team ?? 'admin',
                  title: n.title,
                  level: n.level ? <Level level={n.level} /> : '—',
                  read: n.read_at ? 'read' : canWrite ? <button className="secondary" onClick={() => read.mutate(n.id)}>Mark read</button> : 'unread',
                }))}
              />
            )}
          </Loadable>
        )}
      </Section>
    </div>
  );
}
