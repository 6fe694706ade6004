-- Pricing: newer catalogs loaded at run time by `tollgate prices update` (issue 20).
-- Each row is one dated catalog version in genai-prices' data format (a LiteLLM table is stored
-- as converted by the adapter). Rows are never updated or deleted: an event is priced by the
-- newest version in force at its time (then older versions, then the bundled catalog), so
-- repricing a past range gives the same result after a newer version is loaded.

CREATE TABLE price_catalogs (
  id             bigserial PRIMARY KEY,
  label          text NOT NULL UNIQUE,       -- shown in each price snapshot's `catalog`
  effective_from timestamptz NOT NULL,
  format         text NOT NULL,              -- what was loaded: genai-prices | litellm
  source         jsonb NOT NULL,             -- name, version, url, generated_at, loaded from
  catalog        jsonb NOT NULL,             -- {source, providers} in genai-prices' format
  summary        jsonb,                      -- what changed against the versions before it
  created_at     timestamptz NOT NULL DEFAULT now(),
  created_by     text
);
CREATE INDEX price_catalogs_effective ON price_catalogs (effective_from);
