-- Alerts (src/alerts): rules, firings, the delivery outbox with its attempt log, in-app notifications.

CREATE TABLE alert_rules (
  id             text PRIMARY KEY,
  name           text NOT NULL,
  "on"           text NOT NULL,
  filter         jsonb NOT NULL DEFAULT '{}',
  condition      jsonb NOT NULL DEFAULT '{}',
  -- Webhook secrets are kept here (never returned by the API after creation).
  channels       jsonb NOT NULL,
  -- NULL: the type's default (86400 s; collector.failure 3600 s).
  dedup_window_s integer,
  throttle_s     integer,
  enabled        boolean NOT NULL DEFAULT true,
  -- The last real firing: the throttle is one conditional UPDATE of this column, so two processes
  -- deciding at once cannot both pass it.
  last_fired_at  timestamptz,
  created_at     timestamptz NOT NULL,
  updated_at     timestamptz NOT NULL
);

-- One row per (rule, dedup key = subject|level|period): a firing claims it with one conditional
-- upsert, so within the dedup window only one decision (of any process, sweep or arrival) wins.
CREATE TABLE alert_dedup (
  rule_id    text NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
  key        text NOT NULL,
  fired_at   timestamptz NOT NULL,
  firing_id  text NOT NULL,
  PRIMARY KEY (rule_id, key)
);

CREATE TABLE alert_firings (
  id           text PRIMARY KEY,
  rule_id      text NOT NULL,
  rule_name    text NOT NULL,
  type         text NOT NULL,
  subject      text,
  team         text,
  level        text,
  period       text,
  value        text,
  threshold    text,
  payload      jsonb NOT NULL,
  test         boolean NOT NULL DEFAULT false,
  occurred_at  timestamptz NOT NULL,
  created_at   timestamptz NOT NULL
);
CREATE INDEX alert_firings_created ON alert_firings (created_at DESC);
CREATE INDEX alert_firings_rule ON alert_firings (rule_id, created_at DESC);

-- The outbox: written in the transaction that decides the firing; sent by whichever process claims
-- it (claimed_until is a lease, so a process that died mid-send is taken over once it lapses).
CREATE TABLE alert_deliveries (
  id              bigserial PRIMARY KEY,
  firing_id       text NOT NULL REFERENCES alert_firings (id) ON DELETE CASCADE,
  channel         integer NOT NULL,
  channel_type    text NOT NULL,
  target          text,
  status          text NOT NULL,            -- pending | sent | failed
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  claimed_until   timestamptz,
  last_error      text,
  sent_at         timestamptz,
  UNIQUE (firing_id, channel)
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_at) WHERE status = 'pending';

CREATE TABLE alert_delivery_attempts (
  id           bigserial PRIMARY KEY,
  delivery_id  bigint NOT NULL REFERENCES alert_deliveries (id) ON DELETE CASCADE,
  attempt      integer NOT NULL,
  at           timestamptz NOT NULL,
  ok           boolean NOT NULL,
  status_code  integer,
  error        text,
  duration_ms  integer NOT NULL
);
CREATE INDEX alert_delivery_attempts_delivery ON alert_delivery_attempts (delivery_id, attempt);

CREATE TABLE notifications (
  id          text PRIMARY KEY,
  firing_id   text NOT NULL REFERENCES alert_firings (id) ON DELETE CASCADE,
  rule_id     text NOT NULL,
  subject     text,
  team        text,
  type        text NOT NULL,
  level       text,
  title       text NOT NULL,
  body        text NOT NULL,
  data        jsonb NOT NULL,
  created_at  timestamptz NOT NULL,
  read_at     timestamptz
);
CREATE INDEX notifications_subject ON notifications (subject, created_at DESC);
