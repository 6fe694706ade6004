-- Quotas (src/quotas): entitlements on a meter for a subject, team or API key; grants (never
-- edited, only voided); reservations with a ttl. Usage itself is never stored here: it is read
-- from the meters/rollups.
CREATE TABLE quota_entitlements (
  id             text PRIMARY KEY,
  subject        text,
  team           text,
  api_key        text,
  meter          text NOT NULL,
  -- Budget filter on llm_* meters: {provider?, model?, project?, feature?} (each a string).
  filter         jsonb NOT NULL DEFAULT '{}'::jsonb,
  period         text NOT NULL CHECK (period IN ('day', 'week', 'month')),
  tz             text NOT NULL,
  week_start     smallint NOT NULL DEFAULT 1 CHECK (week_start BETWEEN 1 AND 7),
  warning        numeric NOT NULL,
  critical       numeric NOT NULL,
  block          numeric NOT NULL,
  purchase_url   text,
  enabled        boolean NOT NULL DEFAULT true,
  -- Sum of what counts against the balance besides metered usage: open reservations' amounts
  -- and settled ones' actuals until their usage is surely metered (hold). Changed only by single
  -- statements that lock this row, so every process sees one exact figure.
  reserved       numeric NOT NULL DEFAULT 0,
  -- Last level published (entitlement.level signal) and the last computed figures (stats).
  level          text NOT NULL DEFAULT 'ok',
  snap_usage     numeric NOT NULL DEFAULT 0,
  snap_available numeric NOT NULL DEFAULT 0,
  snap_purchased numeric NOT NULL DEFAULT 0,
  snap_at        timestamptz,
  created_at     timestamptz NOT NULL,
  updated_at     timestamptz NOT NULL,
  deleted_at     timestamptz,
  CHECK (num_nonnulls(subject, team, api_key) = 1)
);
CREATE INDEX quota_entitlements_subject ON quota_entitlements (subject) WHERE deleted_at IS NULL AND subject IS NOT NULL;
CREATE INDEX quota_entitlements_team ON quota_entitlements (team) WHERE deleted_at IS NULL AND team IS NOT NULL;
CREATE INDEX quota_entitlements_api_key ON quota_entitlements (api_key) WHERE deleted_at IS NULL AND api_key IS NOT NULL;
CREATE INDEX quota_entitlements_meter ON quota_entitlements (meter) WHERE deleted_at IS NULL;

CREATE TABLE quota_grants (
  id             text PRIMARY KEY,
  entitlement_id text NOT NULL REFERENCES quota_entitlements (id),
  kind           text NOT NULL CHECK (kind IN ('free', 'purchased', 'promotional')),
  amount         numeric NOT NULL CHECK (amount >= 0),
  priority       integer NOT NULL,
  effective_at   timestamptz NOT NULL,
  expires_at     timestamptz,
  recurring      text CHECK (recurring IN ('day', 'week', 'month')),
  voided_at      timestamptz,
  created_at     timestamptz NOT NULL
);
CREATE INDEX quota_grants_entitlement ON quota_grants (entitlement_id);

-- One reservation id may hold room in several entitlements (a request under a subject's token
-- quota and a team's USD budget): one row per entitlement.
CREATE TABLE quota_reservations (
  id             text NOT NULL,
  entitlement_id text NOT NULL REFERENCES quota_entitlements (id),
  amount         numeric NOT NULL,
  actual         numeric,
  state          text NOT NULL CHECK (state IN ('open', 'settled', 'released', 'expired', 'done')),
  created_at     timestamptz NOT NULL,
  expires_at     timestamptz NOT NULL,
  settled_at     timestamptz,
  hold_until     timestamptz,
  PRIMARY KEY (id, entitlement_id)
);
CREATE INDEX quota_reservations_open ON quota_reservations (expires_at) WHERE state = 'open';
CREATE INDEX quota_reservations_held ON quota_reservations (hold_until) WHERE state = 'settled';
CREATE INDEX quota_reservations_closed ON quota_reservations (created_at) WHERE state IN ('released', 'expired', 'done');
