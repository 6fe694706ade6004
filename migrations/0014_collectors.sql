-- Collectors (src/collectors): runs of the provider usage collectors, the numbers each provider
-- bucket was last recorded with (late-data corrections), and LiveKit webhook state.

-- One row per collector run over a window of UTC days, per account.
CREATE TABLE collector_runs (
  id           bigserial PRIMARY KEY,
  collector    text NOT NULL,            -- openai | anthropic
  account      text NOT NULL,
  window_from  date NOT NULL,
  window_to    date NOT NULL,            -- exclusive
  status       text NOT NULL,            -- running | ok | failed
  started_at   timestamptz NOT NULL,
  finished_at  timestamptz,
  events       integer NOT NULL DEFAULT 0,
  duplicates   integer NOT NULL DEFAULT 0,
  corrections  integer NOT NULL DEFAULT 0,
  rows         integer NOT NULL DEFAULT 0,
  cost         numeric NOT NULL DEFAULT 0,
  error        text
);
CREATE INDEX collector_runs_recent ON collector_runs (collector, started_at DESC);

-- What each provider bucket (bucket start, model, project/workspace, key, batch/tier, …) was last
-- recorded as: a re-pull that finds other numbers records the difference as revision n + 1.
CREATE TABLE collector_buckets (
  collector   text NOT NULL,
  bucket_id   text NOT NULL,
  revision    integer NOT NULL,
  bucket_day  date NOT NULL,
  recorded    jsonb NOT NULL,            -- {input, cache_read, cache_write_5m, cache_write_1h, output, requests, cost}
  updated_at  timestamptz NOT NULL,
  PRIMARY KEY (collector, bucket_id)
);

-- LiveKit webhook ids already turned into events (each id counts once).
CREATE TABLE livekit_webhooks (
  id          text PRIMARY KEY,
  event       text NOT NULL,
  received_at timestamptz NOT NULL
);

-- Tracks the LiveKit webhooks opened, so participant_left / room_finished / the maximum-duration
-- sweep know what to close (the media sessions themselves are the meters domain's).
CREATE TABLE livekit_tracks (
  room        text NOT NULL,
  participant text NOT NULL,
  track       text NOT NULL,
  kind        text NOT NULL,
  started_at  timestamptz NOT NULL,
  ended_at    timestamptz,
  closed_by   text,                      -- track_unpublished | participant_left | room_finished | max_duration
  PRIMARY KEY (room, participant, track, started_at)
);
CREATE INDEX livekit_tracks_open ON livekit_tracks (room, participant) WHERE ended_at IS NULL;
