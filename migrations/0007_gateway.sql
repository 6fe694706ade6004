-- Gateway key policies: which models and routes a gateway key may use (NULL = any).
-- Keyed by the API key's id; owned by src/gateway (no foreign key into auth's table).
CREATE TABLE gateway_key_policies (
  key_id          text PRIMARY KEY,
  allowed_models  text[],
  allowed_routes  text[],
  updated_at      timestamptz NOT NULL DEFAULT now()
);
