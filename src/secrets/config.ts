import { z } from 'zod';

/** `secrets:` config section (imported by src/config.ts). */
export const secretsConfigSchema = z
  .object({
    /** Base64 32-byte master key (env TOLLGATE_MASTER_KEY). */
    master_key: z.string().min(1).optional(),
    /** Key file used when master_key is not set; default <data_dir>/master.key (created 0600 on first use). */
    master_key_file: z.string().min(1).optional(),
    key_provider: z.enum(['local', 'aws_kms']).default('local'),
    kms: z
      .object({
        key_id: z.string().min(1).optional(),
        region: z.string().min(1).optional(),
        endpoint: z.string().url().optional(),
        access_key_id: z.string().min(1).optional(),
        secret_access_key: z.string().min(1).optional(),
        session_token: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.key_provider === 'aws_kms') {
      for (const f of ['key_id', 'region', 'access_key_id', 'secret_access_key'] as const) {
        if (!s.kms?.[f]) ctx.addIssue({ code: 'custom', path: ['kms', f], message: `is required when key_provider is aws_kms` });
      }
    }
  })
  .default({ key_provider: 'local' });

export type SecretsConfig = z.infer<typeof secretsConfigSchema>;

export const SECRETS_ENV: Array<[string, string[]]> = [
  ['TOLLGATE_MASTER_KEY', ['secrets', 'master_key']],
  ['TOLLGATE_MASTER_KEY_FILE', ['secrets', 'master_key_file']],
  ['TOLLGATE_KEY_PROVIDER', ['secrets', 'key_provider']],
  ['TOLLGATE_KMS_KEY_ID', ['secrets', 'kms', 'key_id']],
  ['TOLLGATE_KMS_REGION', ['secrets', 'kms', 'region']],
];
