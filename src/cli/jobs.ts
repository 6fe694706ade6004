import type { Command } from 'commander';
import { configOrExit, fail, withApp } from './common.ts';
import { systemClock } from '../shared/clock.ts';
import { parseRfc3339 } from '../shared/time.ts';

/** `tollgate jobs list | run NAME [--window T]`: the scheduler's jobs, run by hand (stop a PGlite server first). */
export function jobsCommand(program: Command) {
  const jobs = program.command('jobs').description('scheduled jobs: list them, or run one for a window now');
  jobs
    .command('list')
    .description('each job with its schedule, last window and status, and next run')
    .action(async () => {
      const config = configOrExit();
      await withApp(config, async (tg) => {
        for (const j of await tg.jobs.scheduler.list()) {
          process.stdout.write(
            `${j.name}  ${j.schedule} (${j.tz})  last ${j.last_window ?? '-'} ${j.last_status ?? ''}${j.last_error ? ` (${j.last_error})` : ''}  next ${j.next_run ?? '-'}\n`,
          );
        }
      }, 'silent');
    });
  jobs
    .command('run <name>')
    .description('run a job for one window (default: its latest scheduled window); a window that already ran is skipped')
    .option('--window <time>', 'the scheduled instant to run, RFC 3339 (e.g. 2026-01-10T00:00:00Z)')
    .action(async (name: string, opts: { window?: string }) => {
      const config = configOrExit();
      let window: Date | undefined;
      if (opts.window) {
        window = parseRfc3339(opts.window);
        if (!window) fail(`--window must be an RFC 3339 timestamp such as 2026-01-10T00:00:00Z`, 2);
      }
      await withApp(config, async (tg) => {
        if (!tg.jobs.scheduler.has(name)) fail(`no job named ${name} (jobs: ${tg.jobs.scheduler.jobs().join(', ')})`, 2);
        const now = systemClock.now();
        const w = window ?? tg.jobs.scheduler.latestWindow(name, now);
        if (!w) fail(`job ${name} has no scheduled window yet`, 2);
        const r = await tg.jobs.scheduler.runWindow(name, w, now);
        process.stdout.write(`${r.job} ${r.window_start}: ${r.status}${r.error ? ` (${r.error})` : ''}${r.result !== undefined ? ` ${JSON.stringify(r.result)}` : ''}\n`);
        if (r.status === 'failed') process.exitCode = 1;
      });
    });
}
