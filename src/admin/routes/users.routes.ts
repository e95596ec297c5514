import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { App } from '../../app.js';
import { SearchTooSlowError } from '../../domain/users/users.repository.js';
import { actorOf, csrfTokenOf, hasRole } from '../auth.js';
import { parse, redirectTo, rejectedInput, sendPage } from '../respond.js';
import { notice } from '../views/components.js';
import { dialogBody, displayName, userDetailBody, userResults, usersBody } from '../views/users.view.js';
import { withLinks } from './images.routes.js';

const PAGE_SIZE = 50;

const listQuery = z.object({
  q: z.string().trim().max(100).optional(),
  plan: z.string().trim().max(32).optional(),
  status: z.enum(['active', 'banned', 'blocked', '']).optional(),
  before: z.coerce.number().int().positive().optional(),
  limit: z.coerce.number().int().min(1).max(200).optional(),
});

const idParams = z.object({ id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER) });
const dialogParams = idParams.extend({
  dialogId: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER),
});

const banBody = z.object({ reason: z.string().max(500).optional().nullable() });

/** A day (the plan ends when that UTC day ends) or an exact ISO time; empty means no end. */
const until = z
  .union([z.string(), z.null()])
  .optional()
  .transform((v, ctx) => {
    if (v === null || v === undefined || v.trim() === '') return null;
    const s = v.trim();
    const d = /^\d{4}-\d{2}-\d{2}$/.test(s)
      ? new Date(Date.parse(`${s}T00:00:00Z`) + 86_400_000)
      : new Date(s);
    if (Number.isNaN(d.getTime())) {
      ctx.addIssue({ code: 'custom', message: 'a date (YYYY-MM-DD) or an ISO time' });
      return z.NEVER;
    }
    return d;
  });
const planBody = z.object({ plan: z.string().trim().min(1, 'choose a plan').max(32), until });

const adminBody = z.object({
  isAdmin: z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]),
});

function filterOf(req: FastifyRequest) {
  const q = parse(listQuery, req.query);
  return {
    filter: {
      query: q.q || undefined,
      plan: q.plan || undefined,
      status: q.status || undefined,
      beforeId: q.before,
    },
    limit: q.limit ?? PAGE_SIZE,
  };
}

export function usersRoutes(app: App) {
  const list = async (req: FastifyRequest) => {
    const { filter, limit } = filterOf(req);
    const rows = await app.users.search({ ...filter, limit: limit + 1 });
    const items = rows.slice(0, limit);
    const nextCursor = rows.length > limit ? items[items.length - 1]!.id : null;
    return { filter, items, nextCursor };
  };

  const detail = async (id: number) => {
    const user = await app.users.get(id);
    const [subscription, quota, usage, audit, purchases, images, dialogs] = await Promise.all([
      app.subscriptions.get(id).catch(() => undefined),
      app.subscriptions.quota(id).catch(() => undefined),
      app.stats.userUsage(id),
      app.admin.audit.list({ limit: 20, targetType: 'user', targetId: String(id) }),
      app.payments.purchases(id),
      app.images.list({ userId: id, limit: 12 }),
      app.admin.users.listDialogs(id),
    ]);
    return { user, subscription, quota, usage, audit, purchases, images: withLinks(app, images), dialogs };
  };

  const plans = async () => Object.keys(await app.settings.get('plans'));

  /** The four user actions, shared by the form routes and the JSON API. */
  const actions = {
    ban: (req: FastifyRequest, id: number) =>
      app.admin.users
        .ban(actorOf(req), id, parse(banBody, req.body).reason ?? null)
        .then((user) => ({ user })),
    unban: (req: FastifyRequest, id: number) =>
      app.admin.users.unban(actorOf(req), id).then((user) => ({ user })),
    plan: (req: FastifyRequest, id: number) => {
      const b = parse(planBody, req.body);
      return app.admin.users
        .grantPlan(actorOf(req), id, b.plan, b.until)
        .then((subscription) => ({ subscription }));
    },
    'reset-quota': (req: FastifyRequest, id: number) =>
      app.admin.users.resetQuota(actorOf(req), id).then((subscription) => ({ subscription })),
    admin: (req: FastifyRequest, id: number) =>
      app.admin.users
        .setAdmin(actorOf(req), id, parse(adminBody, req.body).isAdmin)
        .then((user) => ({ user })),
  } as const;
  const doneCode = (action: keyof typeof actions, req: FastifyRequest) =>
    action === 'admin'
      ? (req.body as { isAdmin?: string } | undefined)?.isAdmin === 'true'
        ? 'admin_on'
        : 'admin_off'
      : ({ ban: 'banned', unban: 'unbanned', plan: 'plan', 'reset-quota': 'quota' } as const)[action];

  return async (f: FastifyInstance) => {
    f.get('/admin/users', async (req, reply) => {
      const planNames = await plans();
      let view: Parameters<typeof usersBody>[0];
      try {
        view = { ...(await list(req)), plans: planNames };
      } catch (err) {
        if (!(err instanceof SearchTooSlowError)) throw err;
        // Keep the filters on screen with the reason, so they can be narrowed.
        view = {
          filter: filterOf(req).filter,
          items: [],
          nextCursor: null,
          plans: planNames,
          error: err.message,
        };
      }
      return sendPage(req, reply, {
        title: 'Users',
        section: 'users',
        body: usersBody(view),
        fragment: userResults(view),
      });
    });

    f.get('/admin/users/:id', async (req, reply) => {
      const { id } = parse(idParams, req.params);
      const [d, planNames] = await Promise.all([detail(id), plans()]);
      const body = userDetailBody({
        ...d,
        plans: planNames,
        canEdit: hasRole(req.admin, 'admin'),
        csrf: csrfTokenOf(req),
      });
      return sendPage(req, reply, { title: displayName(d.user), section: 'users', body });
    });

    // A user's conversation is private: admins read it (audited), viewers see only its title and size.
    const reader = { config: { adminAccess: 'admin' as const } };
    const readDialog = (req: FastifyRequest) => {
      const { id, dialogId } = parse(dialogParams, req.params);
      return app.admin.users.readDialog(actorOf(req), id, dialogId);
    };
    f.get('/admin/users/:id/dialogs/:dialogId', reader, async (req, reply) => {
      const { id } = parse(idParams, req.params);
      const user = await app.users.get(id);
      const read = await readDialog(req);
      return sendPage(req, reply, {
        title: `${displayName(user)}: ${read.dialog.title}`,
        section: 'users',
        body: dialogBody({ user, ...read }),
      });
    });
    f.get('/admin/api/users/:id/dialogs/:dialogId', reader, (req) => readDialog(req));

    for (const action of Object.keys(actions) as (keyof typeof actions)[]) {
      f.post(`/admin/users/:id/${action}`, async (req, reply) => {
        const { id } = parse(idParams, req.params);
        const issues = await rejectedInput(() => actions[action](req, id));
        if (issues) {
          const [d, planNames] = await Promise.all([detail(id), plans()]);
          const message = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
          const body = [
            notice('error', message),
            userDetailBody({ ...d, plans: planNames, canEdit: true, csrf: csrfTokenOf(req) }),
          ];
          return sendPage(req, reply, { title: displayName(d.user), section: 'users', body }, 422);
        }
        return redirectTo(req, reply, `/admin/users/${id}?done=${doneCode(action, req)}`);
      });

      f.post(`/admin/api/users/:id/${action}`, async (req) => {
        const { id } = parse(idParams, req.params);
        return actions[action](req, id);
      });
    }

    f.get('/admin/api/users', async (req) => {
      const { items, nextCursor } = await list(req);
      return { items, nextCursor };
    });

    f.get('/admin/api/users/:id', async (req) => {
      const { id } = parse(idParams, req.params);
      return detail(id);
    });
  };
}
