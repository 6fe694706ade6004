-- Meters: definitions, durable 15-minute aggregates, media sessions and resource (snapshot) aggregates.
-- Owned by src/meters. Retention never deletes from these tables: they are the durable record once
-- raw events age out.

CREATE TABLE meters (
  slug           text PRIMARY KEY,
  event_type     text NOT NULL,
  aggregation    text NOT NULL,              -- sum | count | max | min | avg | unique_count | latest
  value_property text,                       -- "$.path" into data (NULL for count)
  group_by       jsonb NOT NULL DEFAULT '{}',-- {name: "$.path" | "$subject" | "$source"}
  description    text,
  origin         text NOT NULL,              -- builtin | config | api
  kind           text NOT NULL DEFAULT 'events', -- events | media | resource
  created_at     timestamptz NOT NULL DEFAULT now()
);

-- One row per meter, 15-minute UTC bucket and group key (every group_by dimension of the meter).
-- Every IANA zone in use today has an offset that is a multiple of 15 minutes, so every hour, day,
-- week and month window in any zone is a whole number of buckets.
CREATE TABLE meter_buckets (
  meter        text NOT NULL REFERENCES meters (slug) ON DELETE CASCADE,
  bucket_start timestamptz NOT NULL,
  group_key    jsonb NOT NULL,
  count        bigint NOT NULL,
  sum          numeric,
  min          numeric,
  max          numeric,
  latest_time  timestamptz,
  latest_seq   bigint,
  latest_value numeric,
  PRIMARY KEY (meter, bucket_start, group_key)
);

-- unique_count meters keep the distinct values per bucket, so any window's distinct count is exact.
CREATE TABLE meter_bucket_values (
  meter        text NOT NULL REFERENCES meters (slug) ON DELETE CASCADE,
  bucket_start timestamptz NOT NULL,
  group_key    jsonb NOT NULL,
  value        text NOT NULL,
  PRIMARY KEY (meter, bucket_start, group_key, value)
);

-- media.track.started / ended as received (the durable input of pairing; raw events may be archived).
CREATE TABLE media_marks (
  source      text NOT NULL,
  id          text NOT NULL,
  room        text NOT NULL,
  participant text NOT NULL,
  track       text NOT NULL,
  mark        text NOT NULL,            -- start | end
  time        timestamptz NOT NULL,
  kind        text,
  subject     text,
  team        text,
  PRIMARY KEY (source, id)
);
CREATE INDEX media_marks_key ON media_marks (room, participant, track, time);

CREATE TABLE media_room_finishes (
  source text NOT NULL,
  id     text NOT NULL,
  room   text NOT NULL,
  time   timestamptz NOT NULL,
  PRIMARY KEY (source, id)
);
CREATE INDEX media_room_finishes_room ON media_room_finishes (room, time);

-- Sessions derived from the marks of one (room, participant, track); rebuilt for a key whenever one
-- of its marks (or its room's finish) arrives, so arrival order does not matter.
CREATE TABLE media_sessions (
  room        text NOT NULL,
  participant text NOT NULL,
  track       text NOT NULL,
  kind        text NOT NULL,
  subject     text,
  team        text,
  started_at  timestamptz NOT NULL,
  ended_at    timestamptz,               -- NULL while open (capped at query time by max duration)
  closed_by   text,                      -- end | room_finished | NULL
  PRIMARY KEY (room, participant, track, started_at)
);
CREATE INDEX media_sessions_started ON media_sessions (started_at);

-- resource.snapshot aggregates for time the raw snapshots no longer cover ("sealed" by retention).
CREATE TABLE resource_buckets (
  host          text NOT NULL,
  bucket_start  timestamptz NOT NULL,
  traffic_bytes numeric NOT NULL DEFAULT 0,
  cpu_sum numeric, cpu_count bigint NOT NULL DEFAULT 0, cpu_min numeric, cpu_max numeric,
  mem_sum numeric, mem_count bigint NOT NULL DEFAULT 0, mem_min numeric, mem_max numeric,
  PRIMARY KEY (host, bucket_start)
);
-- The last counter value per host before the seal: the predecessor of the first raw snapshot after it.
CREATE TABLE resource_anchors (
  host                text PRIMARY KEY,
  time                timestamptz NOT NULL,
  traffic_bytes_total numeric NOT NULL
);
CREATE TABLE resource_seal (
  id            integer PRIMARY KEY CHECK (id = 1),
  sealed_before timestamptz NOT NULL
);
