-- Quotas (src/quotas/usage.ts): a stored starting state per entitlement, so an answer replays
-- only the usage after `at` instead of everything since the entitlement's creation.
-- `state` is the engine's state just before instant `at` (grant balances, used since refill,
-- the period's burns, debt and usage); `usage_before` is the metered usage in [start, at) that
-- state consumed: a later read of that total that differs means late events (OpenMeter #2406)
-- and the state is rebuilt from the start. `grants_key` names the grants and settings the state
-- was computed with; any other value means it is rebuilt. `avg` / `avg_at`: the 7-day average
-- usage per request (estimated_turns), cached longer than the answers.
CREATE TABLE quota_usage_snapshots (
  entitlement_id text PRIMARY KEY REFERENCES quota_entitlements (id),
  at             timestamptz NOT NULL,
  grants_key     text NOT NULL,
  state          jsonb NOT NULL,
  usage_before   numeric NOT NULL,
  avg            numeric,
  avg_at         timestamptz,
  built_at       timestamptz NOT NULL
);
