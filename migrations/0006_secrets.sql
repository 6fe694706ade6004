-- Secret store: AES-256-GCM envelope encryption. Each secret has its own data key, which is
-- stored only wrapped (encrypted) by the master key provider named by key_id.
CREATE TABLE secrets (
  name         text PRIMARY KEY,
  key_id       text NOT NULL,          -- which master key / KMS key wrapped data_key
  data_key     bytea NOT NULL,         -- the wrapped data key
  iv           bytea NOT NULL,         -- 12-byte GCM nonce for the value
  ciphertext   bytea NOT NULL,
  tag          bytea NOT NULL,         -- 16-byte GCM authentication tag
  description  text,
  version      integer NOT NULL DEFAULT 1,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
