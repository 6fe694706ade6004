import type { Command } from 'commander';
import { configOrExit } from './common.ts';

export function serveCommand(program: Command) {
  program
    .command('serve')
    .description('run the HTTP API, the LLM gateway and the scheduled jobs in one process')
    .option('-p, --port <port>', 'port to listen on (env PORT, default 8787)')
    .option('-H, --host <host>', 'address to bind (env HOST, default 127.0.0.1)')
    .option('-d, --data-dir <dir>', 'embedded store directory (env TOLLGATE_DATA_DIR, default ./.tollgate)')
    .action(async (o: { port?: string; host?: string; dataDir?: string }) => {
      const config = configOrExit({ port: o.port, host: o.host, data_dir: o.dataDir });
      // Loaded here, not at the top, so `tollgate --help` and light commands start fast.
      const { createTollgate } = await import('../app.ts');
      const { createLogger } = await import('../shared/log.ts');
      const logger = createLogger(config.log_level);
      const tg = await createTollgate(config, { logger });
      let address: string;
      let boot: Awaited<ReturnType<typeof tg.keys.bootstrap>>;
      try {
        boot = await tg.keys.bootstrap(config.bootstrap_key);
        address = await tg.server.listen({ port: config.port, host: config.host });
      } catch (e) {
        await tg.close().catch(() => {}); // releases the embedded store's lock
        throw e;
      }
      await tg.db.announce?.(address);
      logger.info(`Tollgate listening on ${address}`);
      tg.jobs.start(); // scheduled jobs (retention, …) run only in serve; each window once across processes
      logger.info(`store: ${tg.db.description}`);
      logger.info(`API reference: ${address}/docs  (OpenAPI: ${address}/openapi.json)`);
      logger.info(`dashboard: ${address}/ (sign in with an admin or read key)`);
      const empty = await tg.db.query('SELECT 1 FROM events LIMIT 1').then((r) => r.rowCount === 0, () => false);
      if (empty) {
        logger.info(
          `the store has no usage yet: to see a full dashboard, stop the server and run \`npx tollgate demo\` (90 days × 200 users of demo data; --days, --users, --seed), then \`npm start\` again` +
            (tg.db.kind === 'postgres' ? ' (with PostgreSQL it can also run while the server does)' : ''),
        );
      }
      if (boot.created && boot.generated) {
        // Printed once, straight to stdout, so it is visible even with JSON logs.
        process.stdout.write(
          `\n  An admin API key was generated. It is shown only this once:\n\n    ${boot.secret}\n\n` +
            `  Use it as "Authorization: Bearer <key>". Set TOLLGATE_BOOTSTRAP_KEY to choose it yourself.\n\n`,
        );
      } else if (boot.created) {
        logger.info('admin key created from TOLLGATE_BOOTSTRAP_KEY');
      } else {
        logger.info(
          tg.db.kind === 'pglite'
            ? 'API keys exist; create more with POST /v1/keys (`npx tollgate keys create` works on this data dir only while the server is stopped)'
            : 'API keys exist; create more with POST /v1/keys or `npx tollgate keys create`',
        );
      }
      let closing = false;
      const stop = async (signal: string) => {
        if (closing) return;
        closing = true;
        logger.info(`${signal}: shutting down`);
        await tg.close();
        process.exit(0);
      };
      process.on('SIGINT', () => void stop('SIGINT'));
      process.on('SIGTERM', () => void stop('SIGTERM'));
    });
}
