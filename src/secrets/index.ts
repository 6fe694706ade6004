import type { Db } from '../shared/db/index.ts';
import type { Clock } from '../shared/clock.ts';
import type { App } from '../http/server.ts';
import type { KeyService } from '../auth/service.ts';
import { kmsKeyProvider, localKeyProvider, type KeyProvider } from './crypto.ts';
import { awsKmsClient } from './aws.ts';
import { loadMasterKey, secretService, type SecretService } from './service.ts';
import { registerSecretRoutes } from './routes.ts';
import type { SecretsConfig } from './config.ts';

export type { SecretService } from './service.ts';

/** The key provider the config names: the local master key (env or key file) or an AWS KMS key. */
export function keyProviderFor(cfg: SecretsConfig, dataDir: string): () => Promise<KeyProvider> {
  return async () => {
    if (cfg.key_provider === 'aws_kms') {
      const k = cfg.kms!;
      return kmsKeyProvider(k.key_id!, awsKmsClient({ region: k.region!, endpoint: k.endpoint, credentials: { accessKeyId: k.access_key_id!, secretAccessKey: k.secret_access_key!, ...(k.session_token ? { sessionToken: k.session_token } : {}) } }));
    }
    return localKeyProvider(loadMasterKey({ master_key: cfg.master_key, master_key_file: cfg.master_key_file, data_dir: dataDir }));
  };
}

/** The secrets domain's one wiring call from src/app.ts: the store and /v1/secrets*. */
export function wireSecrets(d: { db: Db; clock: Clock; config: SecretsConfig; dataDir: string; server: App; keys: KeyService; provider?: () => Promise<KeyProvider> }): SecretService {
  const secrets = secretService(d.db, d.clock, d.provider ?? keyProviderFor(d.config, d.dataDir));
  registerSecretRoutes(d.server, { keys: d.keys, secrets });
  return secrets;
}
