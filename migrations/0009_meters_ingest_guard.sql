-- Ingest's check for a batch stored by one statement with no transaction around it (events
-- IngestHooks, meters' guard step): takes the meter-definition lock shared, as the transactional
-- ingest does, then looks for event meters on the batch's types other than the llm_* built-ins
-- the rollups answer. If there are any, it raises `needs_tx` and the batch is stored again in a
-- transaction that updates them. A VOLATILE function's queries take their snapshot when they run,
-- after the lock is granted, so a meter defined while this waited is seen (its backfill did not
-- see these rows).
CREATE FUNCTION meters_ingest_guard(types text[], rollup_slugs text[], lock_key bigint, needs_tx text) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM pg_advisory_xact_lock_shared(lock_key);
  IF EXISTS (SELECT 1 FROM meters WHERE kind = 'events' AND event_type = ANY(types) AND NOT (origin = 'builtin' AND slug = ANY(rollup_slugs))) THEN
    RAISE EXCEPTION 'these events have meters to update' USING ERRCODE = needs_tx;
  END IF;
  RETURN true;
END $$;
