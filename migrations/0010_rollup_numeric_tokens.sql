-- Token sums in the llm rollups are numeric (issue 13): one event may carry up to 10^12 tokens per
-- class (src/events/validate.ts), so a month bucket of one busy key could pass bigint's 2^63 − 1.
-- numeric has no such ceiling; sums and "+ EXCLUDED" upserts stay exact. Request counts stay
-- bigint (one per event: 2^63 events is out of reach).
ALTER TABLE rollup_llm_model
  ALTER COLUMN input_tokens TYPE numeric, ALTER COLUMN output_tokens TYPE numeric, ALTER COLUMN cache_read_tokens TYPE numeric,
  ALTER COLUMN cache_write_tokens TYPE numeric, ALTER COLUMN reasoning_tokens TYPE numeric;
ALTER TABLE rollup_llm_subject
  ALTER COLUMN input_tokens TYPE numeric, ALTER COLUMN output_tokens TYPE numeric, ALTER COLUMN cache_read_tokens TYPE numeric,
  ALTER COLUMN cache_write_tokens TYPE numeric, ALTER COLUMN reasoning_tokens TYPE numeric;
ALTER TABLE rollup_llm_org
  ALTER COLUMN input_tokens TYPE numeric, ALTER COLUMN output_tokens TYPE numeric, ALTER COLUMN cache_read_tokens TYPE numeric,
  ALTER COLUMN cache_write_tokens TYPE numeric, ALTER COLUMN reasoning_tokens TYPE numeric;
ALTER TABLE rollup_llm_all
  ALTER COLUMN input_tokens TYPE numeric, ALTER COLUMN output_tokens TYPE numeric, ALTER COLUMN cache_read_tokens TYPE numeric,
  ALTER COLUMN cache_write_tokens TYPE numeric, ALTER COLUMN reasoning_tokens TYPE numeric;
