import { lazy, Suspense, useEffect, useState } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { ApiError, call, onSignedOut } from './api/client.ts';
import type { SessionInfo } from './api/types.ts';
import { SessionContext, SignIn } from './session.tsx';
import { FiltersProvider, useFilters } from './filters.tsx';
import { FilterBar } from './FilterBar.tsx';
import { Overview } from './pages/Overview.tsx';

const Usage = lazy(() => import('./pages/Usage.tsx'));
const Users = lazy(() => import('./pages/Users.tsx'));
const Quotas = lazy(() => import('./pages/Quotas.tsx'));
const Alerts = lazy(() => import('./pages/Alerts.tsx'));
const Collectors = lazy(() => import('./pages/Collectors.tsx'));
const Analysis = lazy(() => import('./pages/Analysis.tsx'));
const Prices = lazy(() => import('./pages/Prices.tsx'));

export const PAGES = [
  { id: 'overview', label: 'Overview', feature: 'summary' },
  { id: 'usage', label: 'Usage', feature: 'usage' },
  { id: 'users', label: 'Users', feature: 'usage' },
  { id: 'quotas', label: 'Quotas', feature: 'quotas' },
  { id: 'alerts', label: 'Alerts', feature: 'alerts' },
  { id: 'collectors', label: 'Collectors', feature: 'collectors' },
  { id: 'analysis', label: 'Analysis', feature: 'analysis' },
  { id: 'prices', label: 'Prices', feature: 'prices' },
] as const;

export function App() {
  const qc = useQueryClient();
  const [signedOut, setSignedOut] = useState(false);
  const session = useQuery({ queryKey: ['session'], queryFn: () => call<SessionInfo>('GET', '/v1/session'), retry: false, staleTime: Infinity });
  useEffect(() => {
    const fn = () => {
      setSignedOut(true);
      qc.removeQueries({ queryKey: ['session'] });
    };
    onSignedOut.add(fn);
    return () => void onSignedOut.delete(fn);
  }, [qc]);
  useEffect(() => {
    if (session.data) setSignedOut(false);
  }, [session.data]);
  if (session.isPending && !signedOut) return <p className="state loading" role="status">Loading…</p>;
  if (!session.data || signedOut) {
    const expired = session.error instanceof ApiError && session.error.code === 'INVALID_API_KEY';
    return <SignIn reason={expired ? 'The key you signed in with is no longer valid.' : undefined} />;
  }
  return (
    <SessionContext.Provider value={session.data}>
      <FiltersProvider defaultTz={session.data.tz}>
        <Shell session={session.data} />
      </FiltersProvider>
    </SessionContext.Provider>
  );
}

function Shell({ session }: { session: SessionInfo }) {
  const qc = useQueryClient();
  const { route, go } = useFilters();
  const [menu, setMenu] = useState(false);
  const page = PAGES.find((p) => p.id === route.page) ?? PAGES[0];
  const signOut = async () => {
    await call('DELETE', '/v1/session').catch(() => {});
    qc.clear();
    window.location.hash = '';
    window.location.reload();
  };
  const available = session.features[page.feature] !== false;
  return (
    <div className="shell">
      <header className="top">
        <button className="menu-toggle" aria-label="Menu" aria-expanded={menu} onClick={() => setMenu(!menu)}>☰</button>
        <a className="brand" href="#/overview">Tollgate</a>
        <nav className={menu ? 'open' : undefined} aria-label="Pages">
          {PAGES.map((p) => (
            <a key={p.id} href={`#/${p.id}`} onClick={(e) => { e.preventDefault(); setMenu(false); go(p.id); }} aria-current={p.id === page.id ? 'page' : undefined}>
              {p.label}
            </a>
          ))}
        </nav>
        <div className="who" data-testid="who">
          <span title={session.scopes.join(', ')}>
            {session.name}
            {session.read_only ? ' · read-only' : ' · admin'}
            {session.team ? ` · team ${session.team}` : ''}
          </span>
          <button className="link" onClick={signOut}>Sign out</button>
        </div>
      </header>
      <FilterBar />
      <main className="content">
        <h1>{page.label}</h1>
        {!available ? (
          <p className="state unavailable">{page.label}: not available on this server (its API is not installed yet).</p>
        ) : (
          <Suspense fallback={<p className="state loading" role="status">Loading page…</p>}>
            {page.id === 'overview' && <Overview />}
            {page.id === 'usage' && <Usage />}
            {page.id === 'users' && <Users />}
            {page.id === 'quotas' && <Quotas />}
            {page.id === 'alerts' && <Alerts />}
            {page.id === 'collectors' && <Collectors />}
            {page.id === 'analysis' && <Analysis />}
            {page.id === 'prices' && <Prices />}
          </Suspense>
        )}
      </main>
    </div>
  );
}
