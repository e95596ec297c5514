import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { App } from '../../app.js';
import { adminView, LoginFailedError, LoginThrottledError } from '../../domain/admin/index.js';
import { sendError } from '../../platform/http.js';
import {
  actorOf,
  adminOf,
  clearSessionCookie,
  csrfTokenOf,
  issueLoginCsrf,
  LOGIN_CSRF_COOKIE,
  setSessionCookie,
} from '../auth.js';
import { parse, sendHtml } from '../respond.js';
import { loginPage } from '../views/layout.view.js';

const credentials = z.object({
  username: z.string().trim().min(1, 'required').max(64),
  password: z.string().min(1, 'required').max(1024),
});

/** Only back into the panel: an open redirect after sign-in would be a phishing tool. */
function safeNext(next: unknown): string {
  return typeof next === 'string' && /^\/admin(\/|$|\?)/.test(next) && !next.startsWith('//')
    ? next
    : '/admin';
}

async function signIn(
  app: App,
  req: FastifyRequest,
  reply: FastifyReply,
  username: string,
  password: string,
) {
  const signed = await app.admin.auth.login({
    username,
    password,
    ip: req.ip ?? null,
    userAgent: req.headers['user-agent'] ?? null,
  });
  // A new session every sign-in; the one the browser had (if any) ends, so a session id never survives it.
  if (req.adminSession) await app.admin.auth.logout(req.adminSession.id);
  setSessionCookie(app, req, reply, signed.token);
  return signed;
}

export function authRoutes(app: App) {
  return async (f: FastifyInstance) => {
    f.get('/admin/login', { config: { adminAccess: 'public' } }, async (req, reply) => {
      const next = safeNext((req.query as { next?: unknown }).next);
      if (req.admin) return reply.redirect(next, 303);
      return sendHtml(reply, loginPage({ csrf: issueLoginCsrf(app, req, reply), next }));
    });

    f.post('/admin/login', { config: { adminAccess: 'public', csrf: 'login' } }, async (req, reply) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const next = safeNext(body.next);
      const username = typeof body.username === 'string' ? body.username : '';
      const again = (status: number, error: string) =>
        sendHtml(reply, loginPage({ csrf: issueLoginCsrf(app, req, reply), next, username, error }), status);
      const input = credentials.safeParse(body);
      if (!input.success) return again(400, 'Enter your username and password.');
      try {
        await signIn(app, req, reply, input.data.username, input.data.password);
      } catch (err) {
        if (err instanceof LoginThrottledError) {
          reply.header('retry-after', String(Math.ceil(err.retryAfterMs / 1000)));
          return again(429, err.message);
        }
        if (err instanceof LoginFailedError) return again(401, err.message);
        throw err;
      }
      reply.clearCookie(LOGIN_CSRF_COOKIE, { path: '/admin' });
      return reply.redirect(next, 303);
    });

    // Any signed-in admin may sign out, even one who still has to change a password.
    const anySession = { config: { adminAccess: 'viewer', beforePasswordChange: true } } as const;
    const logout = async (req: FastifyRequest, reply: FastifyReply) => {
      await app.admin.auth.logout(req.adminSession!.id, actorOf(req));
      clearSessionCookie(app, req, reply);
    };

    f.post('/admin/logout', anySession, async (req, reply) => {
      await logout(req, reply);
      return reply.redirect('/admin/login', 303);
    });

    // JSON: a cross-site page cannot send application/json without a CORS preflight, which the
    // admin never grants, and the origin is checked too.
    f.post('/admin/api/login', { config: { adminAccess: 'public', csrf: 'origin' } }, async (req, reply) => {
      if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) {
        return sendError(reply, 415, 'unsupported_media_type', 'Send the credentials as application/json.');
      }
      const input = parse(credentials, req.body);
      try {
        const signed = await signIn(app, req, reply, input.username, input.password);
        return { admin: adminView(signed.admin), csrfToken: signed.session.csrf_token };
      } catch (err) {
        if (err instanceof LoginThrottledError)
          reply.header('retry-after', String(Math.ceil(err.retryAfterMs / 1000)));
        throw err;
      }
    });

    f.post('/admin/api/logout', anySession, async (req, reply) => {
      await logout(req, reply);
      return reply.status(204).send();
    });

    f.get('/admin/api/me', { config: { beforePasswordChange: true } }, async (req) => ({
      admin: adminView(adminOf(req)),
      csrfToken: csrfTokenOf(req),
    }));
  };
}
