-- Pricing: price overrides (with effective-date history) and negotiated discounts.
-- The shipped catalog lives in code (src/pricing/catalog); these tables hold what an admin set
-- through PUT /v1/prices and PUT /v1/prices/discounts. Config-file and TOLLGATE_PRICING
-- overrides are not stored: they are read at start.

CREATE TABLE price_overrides (
  id             bigserial PRIMARY KEY,
  provider       text NOT NULL,               -- Tollgate provider id (openai, bedrock, …)
  region         text NOT NULL DEFAULT '*',   -- '*' = every region
  model          text NOT NULL,               -- normalised model name (lower case, no provider prefix)
  prices         jsonb NOT NULL,              -- per-million decimal strings, tiers, batch_discount
  effective_from timestamptz NOT NULL,
  note           text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  created_by     text,
  UNIQUE (provider, region, model, effective_from)
);

CREATE TABLE price_discounts (
  id             bigserial PRIMARY KEY,
  provider       text,                        -- NULL = every provider
  team           text,                        -- NULL = every team
  percent        numeric NOT NULL CHECK (percent >= 0 AND percent <= 100),
  effective_from timestamptz NOT NULL,
  note           text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  created_by     text,
  CHECK (provider IS NOT NULL OR team IS NOT NULL)
);
CREATE UNIQUE INDEX price_discounts_key ON price_discounts (coalesce(provider, ''), coalesce(team, ''), effective_from);
