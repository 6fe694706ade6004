import { Command } from 'commander';
import { VERSION } from '../app.ts';
import { serveCommand } from './serve.ts';
import { keysCommand } from './keys.ts';
import { ingestCommand } from './ingest.ts';
import { configOrExit, withDb } from './common.ts';

const program = new Command()
  .name('tollgate')
  .description('Tollgate: usage meter, cost ledger and quota gate for AI APIs')
  .version(VERSION)
  .showHelpAfterError();

serveCommand(program);
program
  .command('migrate')
  .description('apply pending database migrations and exit (serve also does this at start)')
  .action(async () => {
    const config = configOrExit();
    await withDb(config, async (db) => {
      process.stdout.write(`store ${db.description}: migrations up to date\n`);
    });
  });
keysCommand(program);
ingestCommand(program);

await program.parseAsync(process.argv);
