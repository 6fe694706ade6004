-- The one-statement ingest path, with each domain's part in its own trigger (src/events/types.ts).
-- The events insert names what it is storing in the transaction-local setting `tollgate.ingest`:
-- 'alone' when the statement is its own transaction (no inTransaction hook runs), 'tx' when it is
-- in a transaction whose hooks run after it. Other inserts into events (archive restore, a
-- migration's or a test's own rows) leave it unset, and these triggers leave them alone.
-- Both read the statement's inserted rows once, as a transition table.

-- rollups (src/rollups): queue the batch's llm.usage seqs for the fold (migration 0008), inside
-- the statement that stores them, on both paths.
CREATE FUNCTION rollups_queue_ingested() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(current_setting('tollgate.ingest', true), '') = '' THEN RETURN NULL; END IF;
  INSERT INTO rollup_pending (seqs)
  SELECT array_agg(seq ORDER BY seq) FROM ingested WHERE type = 'llm.usage' HAVING count(*) > 0;
  RETURN NULL;
END $$;

CREATE TRIGGER rollups_queue_ingested AFTER INSERT ON events
REFERENCING NEW TABLE AS ingested
FOR EACH STATEMENT EXECUTE FUNCTION rollups_queue_ingested();

-- meters (src/meters): a batch stored alone whose types need meters' inTransaction hook (media
-- marks, or event meters other than the llm_* built-ins the rollups answer) raises TGI01
-- (NEEDS_TRANSACTION): nothing of the statement is kept and ingest stores the batch again in a
-- transaction. The definition lock is taken shared, as the hook takes it; queries in a VOLATILE
-- function take their snapshot when they run, after the lock is granted, so a meter defined
-- while this waited is seen (its backfill did not see these rows). The constants are
-- src/meters' (a test checks them): media types, rollup-served slugs, METER_DEF_LOCK.
CREATE FUNCTION meters_ingest_guard() RETURNS trigger
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  types text[];
BEGIN
  IF coalesce(current_setting('tollgate.ingest', true), '') <> 'alone' THEN RETURN NULL; END IF;
  SELECT array_agg(DISTINCT type) INTO types FROM ingested;
  IF types IS NULL THEN RETURN NULL; END IF;
  IF types && ARRAY['media.track.started', 'media.track.ended', 'media.room.finished'] THEN
    RAISE EXCEPTION 'these events carry media marks' USING ERRCODE = 'TGI01';
  END IF;
  PERFORM pg_advisory_xact_lock_shared(7402001);
  IF EXISTS (SELECT 1 FROM meters WHERE kind = 'events' AND event_type = ANY(types)
             AND NOT (origin = 'builtin' AND slug = ANY(ARRAY['llm_requests', 'llm_input_tokens', 'llm_output_tokens', 'llm_tokens', 'llm_cost']))) THEN
    RAISE EXCEPTION 'these events have meters to update' USING ERRCODE = 'TGI01';
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER meters_ingest_guard AFTER INSERT ON events
REFERENCING NEW TABLE AS ingested
FOR EACH STATEMENT EXECUTE FUNCTION meters_ingest_guard();
