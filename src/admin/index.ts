import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import type { FastifyError, FastifyInstance } from 'fastify';
import type { App } from '../app.js';
import { AppError } from '../platform/errors.js';
import { sendError } from '../platform/http.js';
import { signedObjectRoutes } from '../platform/storage/index.js';
import { cleanStrings } from '../platform/text-input.js';
import { assetRoutes } from './assets.js';
import { installAuth, isHtmx, wantsJson } from './auth.js';
import { sendHtml } from './respond.js';
import { accountsRoutes } from './routes/accounts.routes.js';
import { auditRoutes } from './routes/audit.routes.js';
import { authRoutes } from './routes/auth.routes.js';
import { broadcastsRoutes } from './routes/broadcasts.routes.js';
import { dashboardRoutes } from './routes/dashboard.routes.js';
import { imagesRoutes } from './routes/images.routes.js';
import { paymentsRoutes } from './routes/payments.routes.js';
import { queuesRoutes } from './routes/queues.routes.js';
import { settingsRoutes } from './routes/settings.routes.js';
import { usersRoutes } from './routes/users.routes.js';
import { errorPage } from './views/layout.view.js';

export { bootstrapAdmin } from './bootstrap.js';

/**
 * The admin panel under `/admin`: server-rendered pages (htmx for the live parts), the JSON API
 * under `/admin/api`, bull-board at `/admin/queues`, and `/admin/health`. Registered into a server
 * built by createHttpServer — its own on ADMIN_PORT for the `admin` role, the shared one in `all`.
 */
export async function registerAdmin(server: FastifyInstance, app: App): Promise<void> {
  // Outside the sign-in guard: a signed link to a stored picture is its own credential.
  await server.register(
    signedObjectRoutes({
      store: app.objects,
      secret: app.objectLinks.secret,
      prefix: app.objectLinks.prefix,
      logger: app.logger,
    }),
  );
  await server.register(async (f) => {
    await f.register(cookie);
    if (!f.hasContentTypeParser('application/x-www-form-urlencoded')) await f.register(formbody);
    // PostgreSQL cannot store NUL: a search or a form holding one would be a 500, so it goes here.
    f.addHook('preValidation', async (req) => {
      const body = cleanStrings(req.body);
      req.body = body.value;
      let removed = body.report.nul;
      for (const part of [req.query, req.params]) removed += cleanStrings(part).report.nul;
      if (removed)
        req.log.warn({ url: req.url.split('?')[0], nulRemoved: removed }, 'admin input: NUL removed');
    });
    installAuth(f, app);

    // Pages answer errors as pages; the API, htmx and bull-board as the one JSON error shape.
    f.setErrorHandler((err: FastifyError, req, reply) => {
      const status = err instanceof AppError ? err.status : (err.statusCode ?? 500);
      if (status >= 500) req.log.error({ err }, 'unhandled admin error');
      if (wantsJson(req) || isHtmx(req) || !(req.headers.accept ?? '').includes('text/html')) {
        if (err instanceof AppError) return sendError(reply, err.status, err.code, err.message, err.details);
        if (status >= 500)
          return sendError(reply, 500, 'internal_error', 'Something went wrong. Try again later.');
        return sendError(reply, status, (err.code ?? 'bad_request').toLowerCase(), err.message);
      }
      const message = status >= 500 ? 'Something went wrong. Try again later.' : err.message;
      const ctx = req.admin ? { admin: req.admin, csrf: req.adminSession?.csrf_token ?? '' } : undefined;
      return sendHtml(reply, errorPage(ctx, status, message), status);
    });

    await f.register(assetRoutes);
    await f.register(authRoutes(app));
    await f.register(dashboardRoutes(app));
    await f.register(usersRoutes(app));
    await f.register(settingsRoutes(app));
    await f.register(broadcastsRoutes(app));
    await f.register(paymentsRoutes(app));
    await f.register(imagesRoutes(app));
    await f.register(auditRoutes(app));
    await f.register(accountsRoutes(app));
    await f.register(queuesRoutes(app));
  });
}
