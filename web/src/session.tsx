import { createContext, useContext, useState, type FormEvent } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { call } from './api/client.ts';
import type { SessionInfo } from './api/types.ts';

export const SessionContext = createContext<SessionInfo | null>(null);
export function useSession(): SessionInfo {
  const s = useContext(SessionContext);
  if (!s) throw new Error('no session');
  return s;
}
/** Write controls render only for an admin key; the server refuses a read key's writes anyway. */
export const useCanWrite = () => !useSession().read_only;

export function SignIn({ reason }: { reason?: string }) {
  const qc = useQueryClient();
  const [key, setKey] = useState('');
  const m = useMutation({
    mutationFn: (k: string) => call<SessionInfo>('POST', '/v1/session', { body: { key: k } }),
    onSuccess: (s) => {
      setKey('');
      // Another key's cached answers must not show; the session query keeps its observer.
      qc.removeQueries({ predicate: (q) => q.queryKey[0] !== 'session' });
      qc.setQueryData(['session'], s);
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (key.trim()) m.mutate(key.trim());
  };
  return (
    <main className="signin">
      <form onSubmit={submit} aria-label="Sign in">
        <h1>Tollgate</h1>
        <p>Sign in with an admin or read API key. Read keys see a read-only dashboard; keys bound to a team see that team only.</p>
        {reason ? <p className="state">{reason}</p> : null}
        <label>
          API key
          <input name="key" type="password" autoComplete="off" value={key} onChange={(e) => setKey(e.target.value)} placeholder="tg_…" autoFocus />
        </label>
        <button type="submit" disabled={m.isPending}>{m.isPending ? 'Signing in…' : 'Sign in'}</button>
        {m.isError ? <p className="state error" role="alert">{(m.error as Error).message}</p> : null}
        <p className="hint">The key is kept in an HttpOnly cookie for this site only (12 hours); sign out clears it.</p>
      </form>
    </main>
  );
}
