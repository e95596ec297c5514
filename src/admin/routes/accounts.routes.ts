import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { App } from '../../app.js';
import { adminView } from '../../domain/admin/index.js';
import { ConflictError } from '../../platform/errors.js';
import { actorOf, adminOf, csrfTokenOf } from '../auth.js';
import { issuesOf, parse, redirectTo, rejectedInput, sendPage } from '../respond.js';
import { adminsBody, profileBody } from '../views/accounts.view.js';

const role = z.enum(['owner', 'admin', 'viewer']);
const createBody = z.object({ username: z.string().max(64), password: z.string().max(1024), role });
const formBool = z.union([
  z.boolean(),
  z.literal('true').transform(() => true),
  z.literal('false').transform(() => false),
]);
const updateBody = z.object({ role: role.optional(), disabled: formBool.optional() });
const idParams = z.object({ id: z.coerce.number().int().positive() });
const telegramBody = z.object({
  telegramUserId: z
    .union([z.number(), z.string(), z.null()])
    .transform((v) => (v === null || String(v).trim() === '' ? null : Number(v)))
    .pipe(z.number().int().positive('a positive Telegram user id').max(Number.MAX_SAFE_INTEGER).nullable()),
});
const passwordBody = z.object({ current: z.string().max(1024), password: z.string().max(1024) });

/** Admin accounts (owners only) and each admin's own profile: Telegram id and password (any role). */
export function accountsRoutes(app: App) {
  const adminsPage = async (
    req: FastifyRequest,
    reply: FastifyReply,
    extra?: Partial<Parameters<typeof adminsBody>[0]>,
    status = 200,
  ) => {
    const body = adminsBody({
      admins: await app.admin.accounts.list(),
      me: adminOf(req),
      csrf: csrfTokenOf(req),
      ...extra,
    });
    return sendPage(req, reply, { title: 'Admins', section: 'admins', body }, status);
  };
  const profilePage = (
    req: FastifyRequest,
    reply: FastifyReply,
    extra?: Partial<Parameters<typeof profileBody>[0]>,
    status = 200,
  ) =>
    sendPage(
      req,
      reply,
      {
        title: 'Profile',
        section: 'profile',
        body: profileBody({ me: adminOf(req), csrf: csrfTokenOf(req), ...extra }),
      },
      status,
    );

  const create = (req: FastifyRequest) =>
    app.admin.accounts.create(parse(createBody, req.body), actorOf(req));
  const update = (req: FastifyRequest) => {
    const { id } = parse(idParams, req.params);
    const body = parse(updateBody, req.body);
    // An unchecked checkbox is simply absent from a form: absent means "enabled" there.
    const disabled = body.disabled ?? (req.headers['content-type']?.includes('form') ? false : undefined);
    return app.admin.accounts.update(
      id,
      { ...(body.role ? { role: body.role } : {}), ...(disabled !== undefined ? { disabled } : {}) },
      actorOf(req),
    );
  };
  const setTelegram = (req: FastifyRequest) =>
    app.admin.accounts.setTelegramId(actorOf(req), parse(telegramBody, req.body).telegramUserId);
  const changePassword = (req: FastifyRequest) => {
    const b = parse(passwordBody, req.body);
    return app.admin.accounts.changePassword(actorOf(req), req.adminSession!.id, b.current, b.password);
  };

  return async (f: FastifyInstance) => {
    const owner = { config: { adminAccess: 'owner' as const } };
    const self = { config: { adminAccess: 'viewer' as const } };
    const passwordChange = { config: { adminAccess: 'viewer' as const, beforePasswordChange: true } };

    f.get('/admin/admins', owner, (req, reply) => adminsPage(req, reply));
    f.post('/admin/admins', owner, async (req, reply) => {
      try {
        await create(req);
      } catch (err) {
        const issues = issuesOf(err);
        if (!issues.length && !(err instanceof ConflictError)) throw err;
        const b = (req.body ?? {}) as { username?: string; role?: string };
        return adminsPage(
          req,
          reply,
          {
            issues: issues.length ? issues : [{ path: 'username', message: (err as Error).message }],
            form: b,
          },
          422,
        );
      }
      return redirectTo(req, reply, '/admin/admins?done=created');
    });
    f.post('/admin/admins/:id', owner, async (req, reply) => {
      const issues = await rejectedInput(() => update(req));
      if (issues) return adminsPage(req, reply, { issues }, 422);
      return redirectTo(req, reply, '/admin/admins?done=saved');
    });

    f.get('/admin/profile', passwordChange, (req, reply) => profilePage(req, reply));
    f.post('/admin/profile', self, async (req, reply) => {
      const issues = await rejectedInput(() => setTelegram(req));
      if (issues) return profilePage(req, reply, { issues, which: 'telegram' }, 422);
      return redirectTo(req, reply, '/admin/profile?done=saved');
    });
    f.post('/admin/profile/password', passwordChange, async (req, reply) => {
      const issues = await rejectedInput(() => changePassword(req));
      if (issues) return profilePage(req, reply, { issues, which: 'password' }, 422);
      // A required change was all that stood between the account and the panel.
      const next = adminOf(req).password_change_required ? '/admin' : '/admin/profile';
      return redirectTo(req, reply, `${next}?done=password`);
    });

    f.get('/admin/api/admins', owner, async () => ({ items: await app.admin.accounts.list() }));
    f.post('/admin/api/admins', owner, async (req, reply) => reply.status(201).send(await create(req)));
    f.patch('/admin/api/admins/:id', owner, (req) => update(req));
    f.get('/admin/api/profile', passwordChange, async (req) => adminView(adminOf(req)));
    f.put('/admin/api/profile', self, (req) => setTelegram(req));
    f.post('/admin/api/profile/password', passwordChange, async (req, reply) => {
      await changePassword(req);
      return reply.status(204).send();
    });
  };
}
