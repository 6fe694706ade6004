-- Rollups of llm.usage (src/rollups). Maintained at ingest in the same transaction as the raw
-- events (afterInsert) and on reprice (afterCostChange), so they always equal the raw events.
-- Four cubes (dimension subsets), each at several UTC grains in one table:
--   grain 1 = 15 minutes (every real zone offset is a multiple of 15 min → exact in any zone),
--         2 = hour, 3 = day, 4 = month (UTC; used for the aligned middle of long ranges).
-- Dimension NULLs are values (NULLS NOT DISTINCT), so events without a team still roll up.

CREATE TABLE rollup_llm_model (
  grain smallint NOT NULL,
  bucket timestamptz NOT NULL,
  provider text,
  model text,
  region text,
  requests bigint NOT NULL DEFAULT 0,
  unpriced_requests bigint NOT NULL DEFAULT 0,
  input_tokens bigint NOT NULL DEFAULT 0,
  output_tokens bigint NOT NULL DEFAULT 0,
  cache_read_tokens bigint NOT NULL DEFAULT 0,
  cache_write_tokens bigint NOT NULL DEFAULT 0,
  reasoning_tokens bigint NOT NULL DEFAULT 0,
  cost numeric NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX rollup_llm_model_key ON rollup_llm_model (grain, bucket, provider, model, region) NULLS NOT DISTINCT;

CREATE TABLE rollup_llm_subject (
  grain smallint NOT NULL,
  bucket timestamptz NOT NULL,
  subject text,
  team text,
  project text,
  requests bigint NOT NULL DEFAULT 0,
  unpriced_requests bigint NOT NULL DEFAULT 0,
  input_tokens bigint NOT NULL DEFAULT 0,
  output_tokens bigint NOT NULL DEFAULT 0,
  cache_read_tokens bigint NOT NULL DEFAULT 0,
  cache_write_tokens bigint NOT NULL DEFAULT 0,
  reasoning_tokens bigint NOT NULL DEFAULT 0,
  cost numeric NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX rollup_llm_subject_key ON rollup_llm_subject (grain, bucket, subject, team, project) NULLS NOT DISTINCT;

CREATE TABLE rollup_llm_org (
  grain smallint NOT NULL,
  bucket timestamptz NOT NULL,
  team text,
  project text,
  api_key text,
  provider text,
  model text,
  region text,
  feature text,
  requests bigint NOT NULL DEFAULT 0,
  unpriced_requests bigint NOT NULL DEFAULT 0,
  input_tokens bigint NOT NULL DEFAULT 0,
  output_tokens bigint NOT NULL DEFAULT 0,
  cache_read_tokens bigint NOT NULL DEFAULT 0,
  cache_write_tokens bigint NOT NULL DEFAULT 0,
  reasoning_tokens bigint NOT NULL DEFAULT 0,
  cost numeric NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX rollup_llm_org_key ON rollup_llm_org (grain, bucket, team, project, api_key, provider, model, region, feature) NULLS NOT DISTINCT;

CREATE TABLE rollup_llm_all (
  grain smallint NOT NULL,
  bucket timestamptz NOT NULL,
  subject text,
  team text,
  project text,
  api_key text,
  provider text,
  model text,
  region text,
  feature text,
  requests bigint NOT NULL DEFAULT 0,
  unpriced_requests bigint NOT NULL DEFAULT 0,
  input_tokens bigint NOT NULL DEFAULT 0,
  output_tokens bigint NOT NULL DEFAULT 0,
  cache_read_tokens bigint NOT NULL DEFAULT 0,
  cache_write_tokens bigint NOT NULL DEFAULT 0,
  reasoning_tokens bigint NOT NULL DEFAULT 0,
  cost numeric NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX rollup_llm_all_key ON rollup_llm_all (grain, bucket, subject, team, project, api_key, provider, model, region, feature) NULLS NOT DISTINCT;

-- Deployment settings owned by rollups (the export anonymisation key).
CREATE TABLE rollup_settings (
  key   text PRIMARY KEY,
  value text NOT NULL
);

-- Backfill from the llm.usage events stored before this migration (afterwards the ingest and
-- reprice hooks keep the rollups equal to the raw events).
INSERT INTO rollup_llm_model (grain, bucket, provider, model, region, requests, unpriced_requests, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost)
SELECT 1, date_bin('15 minutes', time, timestamptz '2000-01-01 00:00:00+00') AS b, provider, model, region, count(*), count(*) FILTER (WHERE unpriced), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0),
  coalesce(sum(cache_read_tokens), 0), coalesce(sum(cache_write_tokens), 0), coalesce(sum(reasoning_tokens), 0), coalesce(sum(cost), 0)
FROM events WHERE type = 'llm.usage' GROUP BY b, provider, model, region;
INSERT INTO rollup_llm_model (grain, bucket, provider, model, region, requests, unpriced_requests, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost)
SELECT 2, date_trunc('hour', time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS b, provider, model, region, count(*), count(*) FILTER (WHERE unpriced), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0),
  coalesce(sum(cache_read_tokens), 0), coalesce(sum(cache_write_tokens), 0), coalesce(sum(reasoning_tokens), 0), coalesce(sum(cost), 0)
FROM events WHERE type = 'llm.usage' GROUP BY b, provider, model, region;
INSERT INTO rollup_llm_model (grain, bucket, provider, model, region, requests, unpriced_requests, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost)
SELECT 3, date_trunc('day', time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS b, provider, model, region, count(*), count(*) FILTER (WHERE unpriced), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0),
  coalesce(sum(cache_read_tokens), 0), coalesce(sum(cache_write_tokens), 0), coalesce(sum(reasoning_tokens), 0), coalesce(sum(cost), 0)
FROM events WHERE type = 'llm.usage' GROUP BY b, provider, model, region;
INSERT INTO rollup_llm_model (grain, bucket, provider, model, region, requests, unpriced_requests, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost)
SELECT 4, date_trunc('month', time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS b, provider, model, region, count(*), count(*) FILTER (WHERE unpriced), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0),
  coalesce(sum(cache_read_tokens), 0), coalesce(sum(cache_write_tokens), 0), coalesce(sum(reasoning_tokens), 0), coalesce(sum(cost), 0)
FROM events WHERE type = 'llm.usage' GROUP BY b, provider, model, region;
INSERT INTO rollup_llm_subject (grain, bucket, subject, team, project, requests, unpriced_requests, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost)
SELECT 1, date_bin('15 minutes', time, timestamptz '2000-01-01 00:00:00+00') AS b, subject, team, project, count(*), count(*) FILTER (WHERE unpriced), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0),
  coalesce(sum(cache_read_tokens), 0), coalesce(sum(cache_write_tokens), 0), coalesce(sum(reasoning_tokens), 0), coalesce(sum(cost), 0)
FROM events WHERE type = 'llm.usage' GROUP BY b, subject, team, project;
INSERT INTO rollup_llm_subject (grain, bucket, subject, team, project, requests, unpriced_requests, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost)
SELECT 2, date_trunc('hour', time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS b, subject, team, project, count(*), count(*) FILTER (WHERE unpriced), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0),
  coalesce(sum(cache_read_tokens), 0), coalesce(sum(cache_write_tokens), 0), coalesce(sum(reasoning_tokens), 0), coalesce(sum(cost), 0)
FROM events WHERE type = 'llm.usage' GROUP BY b, subject, team, project;
INSERT INTO rollup_llm_subject (grain, bucket, subject, team, project, requests, unpriced_requests, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost)
SELECT 3, date_trunc('day', time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS b, subject, team, project, count(*), count(*) FILTER (WHERE unpriced), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0),
  coalesce(sum(cache_read_tokens), 0), coalesce(sum(cache_write_tokens), 0), coalesce(sum(reasoning_tokens), 0), coalesce(sum(cost), 0)
FROM events WHERE type = 'llm.usage' GROUP BY b, subject, team, project;
INSERT INTO rollup_llm_subject (grain, bucket, subject, team, project, requests, unpriced_requests, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost)
SELECT 4, date_trunc('month', time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS b, subject, team, project, count(*), count(*) FILTER (WHERE unpriced), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0),
  coalesce(sum(cache_read_tokens), 0), coalesce(sum(cache_write_tokens), 0), coalesce(sum(reasoning_tokens), 0), coalesce(sum(cost), 0)
FROM events WHERE type = 'llm.usage' GROUP BY b, subject, team, project;
INSERT INTO rollup_llm_org (grain, bucket, team, project, api_key, provider, model, region, feature, requests, unpriced_requests, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost)
SELECT 1, date_bin('15 minutes', time, timestamptz '2000-01-01 00:00:00+00') AS b, team, project, api_key, provider, model, region, feature, count(*), count(*) FILTER (WHERE unpriced), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0),
  coalesce(sum(cache_read_tokens), 0), coalesce(sum(cache_write_tokens), 0), coalesce(sum(reasoning_tokens), 0), coalesce(sum(cost), 0)
FROM events WHERE type = 'llm.usage' GROUP BY b, team, project, api_key, provider, model, region, feature;
INSERT INTO rollup_llm_org (grain, bucket, team, project, api_key, provider, model, region, feature, requests, unpriced_requests, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost)
SELECT 2, date_trunc('hour', time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS b, team, project, api_key, provider, model, region, feature, count(*), count(*) FILTER (WHERE unpriced), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0),
  coalesce(sum(cache_read_tokens), 0), coalesce(sum(cache_write_tokens), 0), coalesce(sum(reasoning_tokens), 0), coalesce(sum(cost), 0)
FROM events WHERE type = 'llm.usage' GROUP BY b, team, project, api_key, provider, model, region, feature;
INSERT INTO rollup_llm_org (grain, bucket, team, project, api_key, provider, model, region, feature, requests, unpriced_requests, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost)
SELECT 3, date_trunc('day', time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS b, team, project, api_key, provider, model, region, feature, count(*), count(*) FILTER (WHERE unpriced), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0),
  coalesce(sum(cache_read_tokens), 0), coalesce(sum(cache_write_tokens), 0), coalesce(sum(reasoning_tokens), 0), coalesce(sum(cost), 0)
FROM events WHERE type = 'llm.usage' GROUP BY b, team, project, api_key, provider, model, region, feature;
INSERT INTO rollup_llm_org (grain, bucket, team, project, api_key, provider, model, region, feature, requests, unpriced_requests, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost)
SELECT 4, date_trunc('month', time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS b, team, project, api_key, provider, model, region, feature, count(*), count(*) FILTER (WHERE unpriced), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0),
  coalesce(sum(cache_read_tokens), 0), coalesce(sum(cache_write_tokens), 0), coalesce(sum(reasoning_tokens), 0), coalesce(sum(cost), 0)
FROM events WHERE type = 'llm.usage' GROUP BY b, team, project, api_key, provider, model, region, feature;
INSERT INTO rollup_llm_all (grain, bucket, subject, team, project, api_key, provider, model, region, feature, requests, unpriced_requests, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost)
SELECT 1, date_bin('15 minutes', time, timestamptz '2000-01-01 00:00:00+00') AS b, subject, team, project, api_key, provider, model, region, feature, count(*), count(*) FILTER (WHERE unpriced), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0),
  coalesce(sum(cache_read_tokens), 0), coalesce(sum(cache_write_tokens), 0), coalesce(sum(reasoning_tokens), 0), coalesce(sum(cost), 0)
FROM events WHERE type = 'llm.usage' GROUP BY b, subject, team, project, api_key, provider, model, region, feature;
INSERT INTO rollup_llm_all (grain, bucket, subject, team, project, api_key, provider, model, region, feature, requests, unpriced_requests, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost)
SELECT 3, date_trunc('day', time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS b, subject, team, project, api_key, provider, model, region, feature, count(*), count(*) FILTER (WHERE unpriced), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0),
  coalesce(sum(cache_read_tokens), 0), coalesce(sum(cache_write_tokens), 0), coalesce(sum(reasoning_tokens), 0), coalesce(sum(cost), 0)
FROM events WHERE type = 'llm.usage' GROUP BY b, subject, team, project, api_key, provider, model, region, feature;
