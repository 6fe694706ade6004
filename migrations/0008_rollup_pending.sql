-- Deferred rollups (src/rollups): each ingest transaction records the seqs of the llm.usage events
-- it stored (one row per batch); a drain folds them into the cubes and deletes the row in one
-- transaction, so each event is counted exactly once. Queries drain first, so answers still equal
-- the raw events. Folding many batches at once collapses repeated (bucket, dims) keys: far fewer
-- rollup rows are written than when every batch upserts its own.
CREATE TABLE rollup_pending (
  id   bigserial PRIMARY KEY,
  seqs bigint[] NOT NULL
);
