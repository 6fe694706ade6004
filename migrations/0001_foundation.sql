-- Foundation: API keys and the event store.

CREATE TABLE api_keys (
  id          text PRIMARY KEY,
  name        text NOT NULL,
  prefix      text NOT NULL,             -- first characters of the secret, to tell keys apart in lists
  key_hash    text NOT NULL UNIQUE,      -- sha256 hex of the whole secret; the secret itself is never stored
  scopes      text[] NOT NULL,
  subject     text,
  team        text,
  project     text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz,
  last_used_at timestamptz
);

-- Every accepted CloudEvent. (source, id) is the dedup key, enforced here, forever: when retention
-- deletes a row its key moves to event_tombstones first.
CREATE TABLE events (
  seq          bigserial PRIMARY KEY,
  source       text NOT NULL,
  id           text NOT NULL,
  type         text NOT NULL,
  subject      text,
  time         timestamptz NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now(),
  data         jsonb NOT NULL,
  -- llm.usage columns, lifted out of data so pricing, rollups and queries need no JSON work.
  provider     text,
  model        text,
  region       text,
  team         text,
  project      text,
  api_key      text,
  feature      text,
  input_tokens       bigint,
  output_tokens      bigint,
  cache_read_tokens  bigint,
  cache_write_tokens bigint,
  reasoning_tokens   bigint,
  cost          numeric,      -- the cost reports use: provider-reported when given, else computed
  cost_source   text,         -- 'provider' | 'computed' | NULL (unpriced / not an llm.usage event)
  computed_cost numeric,      -- what Tollgate's prices say, kept beside a provider-reported cost
  price         jsonb,        -- the price snapshot the event was priced with
  unpriced      boolean NOT NULL DEFAULT false,
  estimated     boolean NOT NULL DEFAULT false,
  UNIQUE (source, id)
);
CREATE INDEX events_type_time ON events (type, time);
CREATE INDEX events_time ON events (time);
CREATE INDEX events_unpriced ON events (time) WHERE unpriced;

CREATE TABLE event_tombstones (
  source     text NOT NULL,
  id         text NOT NULL,
  deleted_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (source, id)
);

-- Events that failed validation, kept for inspection.
CREATE TABLE rejected_events (
  seq         bigserial PRIMARY KEY,
  received_at timestamptz NOT NULL DEFAULT now(),
  source      text,
  event_id    text,
  batch_index integer NOT NULL,
  error       text NOT NULL,
  body        jsonb
);
CREATE INDEX rejected_events_received ON rejected_events (received_at DESC);
