import type { Command } from 'commander';
import { configOrExit, fail, withDb } from './common.ts';
import { systemClock } from '../shared/clock.ts';
import { createLogger } from '../shared/log.ts';
import { ApiError } from '../shared/errors.ts';
import { alertService } from '../alerts/service.ts';
import type { Config } from '../config.ts';
import type { Db } from '../shared/db/index.ts';

function service(db: Db, config: Config) {
  return alertService({
    db,
    clock: systemClock,
    logger: createLogger('warn', process.stderr.isTTY, true),
    config: { ...config.alerts, delivery: { ...config.alerts.delivery, on_decide: false } },
    tz: config.tz,
    dashboardUrl: config.alerts.dashboard_url ?? `http://${config.host}:${config.port}`,
  });
}

const status = (d: { type: string; status: string; attempts: number; target: string | null; last_error: string | null }) =>
  `${d.type}${d.target ? ` ${d.target}` : ''}: ${d.status} after ${d.attempts} attempt${d.attempts === 1 ? '' : 's'}${d.last_error && d.status !== 'sent' ? ` (${d.last_error})` : ''}`;

/** `tollgate alerts list | test <rule> | history`: works on the store directly, as the API would. */
export function alertsCommand(program: Command) {
  const alerts = program.command('alerts').description('alert rules, test sends and firing history (the API: /v1/alerts/*)');
  alerts
    .command('list')
    .description('list alert rules (webhook secrets masked)')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const config = configOrExit();
      await withDb(config, async (db) => {
        const rules = await service(db, config).listRules();
        if (o.json) return void process.stdout.write(JSON.stringify(rules, null, 2) + '\n');
        if (!rules.length) process.stdout.write('no alert rules\n');
        for (const r of rules) {
          const channels = r.channels.map((c) => (c.type === 'email' ? `email ${(c.to as string[]).join(',')}` : c.type === 'webhook' ? `webhook ${c.url}` : 'in_app')).join('; ');
          process.stdout.write(`${r.id}  ${r.enabled ? 'on ' : 'off'}  ${r.on.padEnd(23)}  ${r.name}  → ${channels}\n`);
        }
      });
    });
  alerts
    .command('test <rule>')
    .description("send a sample through every channel of a rule and report each delivery (uses SMTP_URL and TOLLGATE_WEBHOOK_ALLOWED_HOSTS)")
    .action(async (id: string) => {
      const config = configOrExit();
      await withDb(config, async (db) => {
        const svc = service(db, config);
        try {
          const r = await svc.test(id);
          process.stdout.write(`test firing ${r.firing_id}\n`);
          for (const d of r.deliveries) process.stdout.write(`  ${status(d)}\n`);
          if (r.deliveries.some((d) => d.status !== 'sent')) process.exitCode = 1;
        } catch (e) {
          if (e instanceof ApiError) fail(e.message);
          throw e;
        } finally {
          await svc.close();
        }
      });
    });
  alerts
    .command('history')
    .description("firings, newest first, with each channel's delivery status and attempts")
    .option('--rule <id>', 'only this rule')
    .option('-n, --limit <n>', 'how many', '20')
    .option('--no-tests', 'leave out test sends')
    .option('--json', 'print JSON')
    .action(async (o: { rule?: string; limit: string; tests: boolean; json?: boolean }) => {
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) fail('--limit: a whole number from 1 to 1000', 2);
      const config = configOrExit();
      await withDb(config, async (db) => {
        const rows = await service(db, config).history({ rule_id: o.rule, limit, include_tests: o.tests });
        if (o.json) return void process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
        if (!rows.length) process.stdout.write('no firings\n');
        for (const f of rows) {
          process.stdout.write(`${f.created_at}  ${f.id}${f.test ? ' (test)' : ''}  ${f.rule_name}: ${f.title}\n`);
          for (const d of f.deliveries) process.stdout.write(`    ${status(d)}\n`);
        }
      });
    });
}
