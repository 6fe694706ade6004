import type { Command } from 'commander';
import { configOrExit, fail, withDb } from './common.ts';
import { keyStore } from '../auth/store.ts';
import { keyService } from '../auth/service.ts';
import { SCOPES, type Scope } from '../auth/keys.ts';
import { systemClock } from '../shared/clock.ts';
import { ApiError } from '../shared/errors.ts';

export function keysCommand(program: Command) {
  const keys = program
    .command('keys')
    .description('manage API keys directly in the store (stop a PGlite server first, or use /v1/keys)');
  keys
    .command('create')
    .description('create a key and print its secret once')
    .requiredOption('-n, --name <name>', 'a name to recognise the key by')
    .option('-s, --scopes <list>', `comma-separated scopes: ${SCOPES.join(', ')}`, 'read')
    .option('--subject <subject>', 'bind the key to one end user')
    .option('--team <team>', 'bind the key to a team (it then reads only that team)')
    .option('--project <project>', 'bind the key to a project')
    .action(async (o: { name: string; scopes: string; subject?: string; team?: string; project?: string }) => {
      const scopes = o.scopes.split(',').map((s) => s.trim()).filter(Boolean);
      const bad = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
      if (bad.length || !scopes.length) fail(`--scopes: unknown scope ${bad.join(', ') || '(none)'}; choose from ${SCOPES.join(', ')}`, 2);
      await withDb(configOrExit(), async (db) => {
        const { key, secret } = await keyService(keyStore(db), systemClock).create({
          name: o.name,
          scopes: scopes as Scope[],
          subject: o.subject,
          team: o.team,
          project: o.project,
        });
        process.stdout.write(`created ${key.id} (${key.scopes.join(', ')})\n${secret}\n`);
      });
    });
  keys
    .command('list')
    .description('list keys (never their secrets)')
    .option('-a, --all', 'include revoked keys')
    .action(async (o: { all?: boolean }) => {
      await withDb(configOrExit(), async (db) => {
        const list = await keyService(keyStore(db), systemClock).list(!!o.all);
        if (!list.length) process.stdout.write('no keys\n');
        for (const k of list) {
          const bind = [k.subject && `subject=${k.subject}`, k.team && `team=${k.team}`, k.project && `project=${k.project}`].filter(Boolean).join(' ');
          process.stdout.write(
            `${k.id}  ${k.prefix}…  ${k.name}  [${k.scopes.join(',')}]${bind ? '  ' + bind : ''}${k.revoked_at ? '  revoked ' + k.revoked_at : ''}\n`,
          );
        }
      });
    });
  keys
    .command('revoke <id>')
    .description('revoke a key by its id')
    .action(async (id: string) => {
      await withDb(configOrExit(), async (db) => {
        try {
          const k = await keyService(keyStore(db), systemClock).revoke(id);
          process.stdout.write(`revoked ${k.id}\n`);
        } catch (e) {
          if (e instanceof ApiError) fail(e.message);
          throw e;
        }
      });
    });
}
