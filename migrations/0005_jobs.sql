-- Scheduled job runs (src/jobs). UNIQUE (job, window_start) plus an advisory lock make each
-- scheduled window run exactly once across processes.
CREATE TABLE job_runs (
  id           bigserial PRIMARY KEY,
  job          text NOT NULL,
  window_start timestamptz NOT NULL,
  status       text NOT NULL,            -- running | ok | failed
  started_at   timestamptz NOT NULL,
  finished_at  timestamptz,
  error        text,
  result       jsonb,
  UNIQUE (job, window_start)
);
CREATE INDEX job_runs_job_started ON job_runs (job, started_at DESC);

-- What retention archived: one row per written archive file.
CREATE TABLE archive_files (
  path        text PRIMARY KEY,
  type        text NOT NULL,
  day         date NOT NULL,
  rows        integer NOT NULL,
  bytes       bigint NOT NULL,
  created_at  timestamptz NOT NULL,
  restored_at timestamptz
);
