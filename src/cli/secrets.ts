import type { Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { existsSync, renameSync, writeFileSync, chmodSync } from 'node:fs';
import { configOrExit, fail, withDb } from './common.ts';
import { systemClock } from '../shared/clock.ts';
import { keyProviderFor } from '../secrets/index.ts';
import { secretService, masterKeyFile } from '../secrets/service.ts';
import { localKeyProvider, parseMasterKey } from '../secrets/crypto.ts';
import { ApiError } from '../shared/errors.ts';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** `tollgate secrets set|list|delete|rotate-master-key`: values go in, never come out. */
export function secretsCommand(program: Command) {
  const cmd = program.command('secrets').description('manage encrypted secrets (upstream provider keys, collector credentials)');
  const svc = (db: Parameters<Parameters<typeof withDb>[1]>[0], config: ReturnType<typeof configOrExit>) =>
    secretService(db, systemClock, keyProviderFor(config.secrets, config.data_dir));
  const guard = async (fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (e) {
      if (e instanceof ApiError || (e as Error).name === 'SecretCryptoError') fail((e as Error).message);
      throw e;
    }
  };
  cmd
    .command('set <name>')
    .description('store a secret; the value is read from stdin (or --value, which leaves it in shell history)')
    .option('--value <value>', 'the value (prefer stdin)')
    .option('-d, --description <text>', 'what the secret is for')
    .action(async (name: string, o: { value?: string; description?: string }) => {
      const value = o.value ?? (await readStdin());
      if (!value) fail('no value: pipe it on stdin, e.g. `printf %s "$KEY" | tollgate secrets set openai`', 2);
      const config = configOrExit();
      await withDb(config, (db) => guard(async () => {
        const m = await svc(db, config).set(name, value, o.description ?? null);
        process.stdout.write(`stored ${m.name} (version ${m.version}, key ${m.key_id})\n`);
      }));
    });
  cmd
    .command('list')
    .description('list secret names and metadata (never values)')
    .action(async () => {
      const config = configOrExit();
      await withDb(config, async (db) => {
        const list = await svc(db, config).list();
        if (!list.length) process.stdout.write('no secrets\n');
        for (const s of list) process.stdout.write(`${s.name}  v${s.version}  ${s.key_id}  updated ${s.updated_at}${s.description ? '  ' + s.description : ''}\n`);
      });
    });
  cmd
    .command('delete <name>')
    .description('delete a secret')
    .action(async (name: string) => {
      const config = configOrExit();
      await withDb(config, async (db) => {
        if (!(await svc(db, config).delete(name))) fail(`secret ${name} not found`);
        process.stdout.write(`deleted ${name}\n`);
      });
    });
  cmd
    .command('rotate-master-key')
    .description('re-wrap every data key under a new master key (TOLLGATE_NEW_MASTER_KEY, else a generated one)')
    .action(async () => {
      const config = configOrExit();
      if (config.secrets.key_provider !== 'local') fail('rotate-master-key rotates the local master key; rotate a KMS key in KMS', 2);
      const given = process.env.TOLLGATE_NEW_MASTER_KEY;
      const next = given ? parseMasterKey(given, 'TOLLGATE_NEW_MASTER_KEY') : randomBytes(32);
      await withDb(config, (db) => guard(async () => {
        const n = await svc(db, config).rotateMasterKey(localKeyProvider(next));
        if (!config.secrets.master_key) {
          const file = masterKeyFile({ master_key_file: config.secrets.master_key_file, data_dir: config.data_dir });
          if (existsSync(file)) renameSync(file, `${file}.old`);
          writeFileSync(file, next.toString('base64') + '\n', { mode: 0o600 });
          chmodSync(file, 0o600);
          process.stdout.write(`re-wrapped ${n} data key(s); the new master key is in ${file} (the old one in ${file}.old — delete it once you are sure)\n`);
        } else if (given) {
          process.stdout.write(`re-wrapped ${n} data key(s); set TOLLGATE_MASTER_KEY to the new key (TOLLGATE_NEW_MASTER_KEY) before the next start\n`);
        } else {
          process.stdout.write(`re-wrapped ${n} data key(s). New master key — set it as TOLLGATE_MASTER_KEY now; it is shown only once:\n\n  ${next.toString('base64')}\n\n`);
        }
      }));
    });
}
