import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { FastifyRequest } from 'fastify';
import type { App } from '../http/server.ts';
import { bearerToken, requireScope } from '../http/auth.ts';
import type { KeyService } from '../auth/service.ts';
import { ApiError, notFound } from '../shared/errors.ts';
import { parseRfc3339 } from '../shared/time.ts';
import type { Clock } from '../shared/clock.ts';
import type { Scheduler } from './scheduler.ts';

const jobInfo = z.object({
  name: z.string(),
  schedule: z.string(),
  tz: z.string(),
  last_window: z.string().nullable(),
  last_status: z.string().nullable(),
  last_error: z.string().nullable(),
  last_finished_at: z.string().nullable(),
  next_run: z.string().nullable(),
});

const runOut = z.object({
  job: z.string(),
  window_start: z.string(),
  status: z.enum(['ok', 'failed', 'skipped']),
  error: z.string().optional(),
  result: z.unknown().optional(),
});

const sameSecret = (a: string, b: string) => timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());

/** `GET /v1/jobs`, `POST /v1/jobs/:name/run {window?}` (admin key, or the cron secret as a bearer token). */
export function registerJobRoutes(app: App, deps: { keys: KeyService; scheduler: Scheduler; clock: Clock; cronSecret?: string }) {
  const admin = requireScope(deps.keys, 'admin');
  const adminOrCron = async (req: FastifyRequest, reply: Parameters<typeof admin>[1]) => {
    const token = bearerToken(req);
    if (deps.cronSecret && token && sameSecret(token, deps.cronSecret)) return;
    await admin(req, reply);
  };

  app.get(
    '/v1/jobs',
    { preHandler: admin, schema: { tags: ['jobs'], summary: 'Scheduled jobs with their last run and next window', response: { 200: z.object({ data: z.array(jobInfo) }) } } },
    async () => ({ data: await deps.scheduler.list() }),
  );

  app.post(
    '/v1/jobs/:name/run',
    {
      onRequest: adminOrCron,
      schema: {
        tags: ['jobs'],
        summary: 'Run a job for one window now (default: its latest scheduled window); a window that already ran is skipped',
        params: z.object({ name: z.string() }),
        body: z.object({ window: z.string().optional() }).strict().optional().nullable(),
        response: { 200: runOut },
      },
    },
    async (req) => {
      const { name } = req.params;
      if (!deps.scheduler.has(name)) throw notFound(`job "${name}"`);
      const now = deps.clock.now();
      let window: Date | null | undefined;
      if (req.body?.window) {
        window = parseRfc3339(req.body.window);
        if (!window) throw new ApiError({ type: 'invalid_request', code: 'INVALID_WINDOW', message: 'window must be an RFC 3339 timestamp such as 2026-03-01T00:00:00Z', param: 'window' });
      } else window = deps.scheduler.latestWindow(name, now);
      if (!window) throw new ApiError({ type: 'invalid_request', code: 'NO_WINDOW', message: `job "${name}" has no scheduled window yet`, param: 'window' });
      return deps.scheduler.runWindow(name, window, now);
    },
  );
}
