import { ApiError, notFound } from '../shared/errors.ts';
import { canReadRow, scopeReadOne } from '../auth/binding.ts';
import type { Binding } from '../rollups/service.ts';
import type { AlertCtx } from './context.ts';
import * as store from './store.ts';

/**
 * In-app notifications as a key may read them: a subject-bound key its subject's, a team-bound
 * key its team's, a project-bound key none (notifications carry no project).
 */

const projectOnly = (bind: Binding) => !!bind.project && !bind.subject && !bind.team;

export interface Notifications {
  listNotifications(q: { subject?: string; unread?: boolean; limit: number; before?: Date }, bind: Binding): Promise<store.NotificationRow[]>;
  readNotification(id: string, bind: Binding): Promise<store.NotificationRow>;
}

export function notifications(ctx: AlertCtx): Notifications {
  const { db } = ctx;
  return {
    async listNotifications(q, bind) {
      if (projectOnly(bind)) throw new ApiError({ type: 'permission_denied', code: 'BOUND_KEY', message: 'notifications belong to a subject or a team; a project-bound key reads none' });
      const subject = scopeReadOne(bind, 'subject', q.subject, 'filter[subject]');
      return store.listNotifications(db, { subject, team: bind.team ?? undefined, unread: q.unread, limit: q.limit, before: q.before });
    },
    async readNotification(id, bind) {
      const n = await store.getNotification(db, id);
      if (!n || !canReadRow(bind, n, ['subject', 'team']) || projectOnly(bind)) throw notFound(`notification ${id}`);
      await store.markRead(db, id, ctx.clock.now());
      return (await store.getNotification(db, id))!;
    },
  };
}
