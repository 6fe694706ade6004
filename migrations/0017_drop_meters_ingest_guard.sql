-- The one-statement ingest path is gone (src/events/types.ts: ingest hooks are enrich,
-- inTransaction, afterCommit): every batch is stored in a transaction, and meters take their
-- definition lock and look up their meters inside it. Nothing calls migration 0009's guard now.
DROP FUNCTION IF EXISTS meters_ingest_guard(text[], text[], bigint, text);
