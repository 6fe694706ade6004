-- Analysis: detected anomalies (detection is independent of alert rules) and their dismissals.
-- id is deterministic (measure, window unit, group, window start): a re-scan updates the same row,
-- and a dismissal sticks to it.
CREATE TABLE analysis_anomalies (
  id             text PRIMARY KEY,
  measure        text NOT NULL,
  window_unit    text NOT NULL,
  group_by       text NOT NULL DEFAULT '',
  group_value    jsonb NOT NULL DEFAULT '{}'::jsonb,
  window_start   timestamptz NOT NULL,
  window_end     timestamptz NOT NULL,
  actual         numeric NOT NULL,
  expected       numeric NOT NULL,
  score          double precision NOT NULL,
  drivers        jsonb NOT NULL DEFAULT '[]'::jsonb,
  detected_at    timestamptz NOT NULL,
  signalled_at   timestamptz,
  dismissed_at   timestamptz,
  dismiss_reason text,
  dismissed_by   text
);

CREATE INDEX analysis_anomalies_window ON analysis_anomalies (measure, window_unit, window_start);
