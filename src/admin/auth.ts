import { randomBytes } from 'node:crypto';
import type {} from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../app.js';
import { type Actor, safeEqual } from '../domain/admin/index.js';
import type { AdminRole, AdminSession, AdminUser } from '../platform/db/schema.js';
import { sendError } from '../platform/http.js';
import { errorPage } from './views/layout.view.js';

/** Who may call a route. Default: GET/HEAD any signed-in admin ('viewer'), everything else 'admin'. */
export type Access = 'public' | AdminRole;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route (see Access). */
    adminAccess?: Access;
    /**
     * 'token' (default): the session's CSRF token; 'login': the sign-in form's double-submit cookie;
     * 'origin': only the same-origin check (bull-board's own UI, JSON sign-in).
     */
    csrf?: 'token' | 'login' | 'origin';
    /** Reachable by an account that must choose a new password first (its profile, sign-out). */
    beforePasswordChange?: boolean;
  }
  interface FastifyRequest {
    admin?: AdminUser;
    adminSession?: AdminSession;
  }
}

export const SESSION_COOKIE = 'vitte_admin';
/** Double-submit token of the sign-in form, before any session exists. */
export const LOGIN_CSRF_COOKIE = 'vitte_admin_login';
export const CSRF_HEADER = 'x-csrf-token';
export const CSRF_FIELD = '_csrf';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const RANK: Record<AdminRole, number> = { viewer: 1, admin: 2, owner: 3 };

export function isSafeMethod(method: string): boolean {
  return SAFE_METHODS.has(method);
}

export function accessOf(req: FastifyRequest): Access {
  return req.routeOptions.config?.adminAccess ?? (isSafeMethod(req.method) ? 'viewer' : 'admin');
}

export function hasRole(admin: AdminUser | undefined, role: AdminRole): boolean {
  return admin !== undefined && RANK[admin.role] >= RANK[role];
}

/** The signed-in admin of a route that requires one. */
export function adminOf(req: FastifyRequest): AdminUser {
  if (!req.admin) throw new Error('admin route reached without a session');
  return req.admin;
}

export function actorOf(req: FastifyRequest): Actor {
  const admin = adminOf(req);
  return { id: admin.id, username: admin.username, ip: req.ip ?? null };
}

export function csrfTokenOf(req: FastifyRequest): string {
  return req.adminSession?.csrf_token ?? '';
}

export function wantsJson(req: FastifyRequest): boolean {
  const path = req.url.split('?')[0] ?? '';
  return path.startsWith('/admin/api/') || path === '/admin/api' || /\/admin\/queues\/api\//.test(path);
}

export function isHtmx(req: FastifyRequest): boolean {
  return req.headers['hx-request'] === 'true';
}

function cookieOptions(app: App, req: FastifyRequest) {
  return {
    path: '/admin',
    httpOnly: true,
    sameSite: 'strict' as const,
    secure: app.config.ADMIN_COOKIE_SECURE ?? req.protocol === 'https',
  };
}

export function setSessionCookie(app: App, req: FastifyRequest, reply: FastifyReply, token: string): void {
  reply.setCookie(SESSION_COOKIE, token, cookieOptions(app, req));
}

export function clearSessionCookie(app: App, req: FastifyRequest, reply: FastifyReply): void {
  reply.clearCookie(SESSION_COOKIE, cookieOptions(app, req));
}

/** A fresh token for the sign-in form, stored in a cookie to compare against on submit. */
export function issueLoginCsrf(app: App, req: FastifyRequest, reply: FastifyReply): string {
  const token = randomBytes(24).toString('base64url');
  reply.setCookie(LOGIN_CSRF_COOKIE, token, { ...cookieOptions(app, req), maxAge: 3600 });
  return token;
}

/**
 * A browser always names the page a cross-site request came from (Origin, or at least
 * Sec-Fetch-Site); a request with neither is a non-browser client, which CSRF cannot involve. The
 * origin must be this server's exactly — scheme, host and port (a default port equals none) — or
 * the public one (PUBLIC_URL: behind a proxy the request's own Host may have lost its port).
 */
function sameOrigin(req: FastifyRequest, publicOrigin: string | undefined): boolean {
  const origin = req.headers.origin;
  // "null" is what a browser sends under a no-referrer policy; Sec-Fetch-Site then decides.
  if (typeof origin === 'string' && origin !== 'null') {
    try {
      const from = new URL(origin).origin;
      return from === new URL(`${req.protocol}://${req.host}`).origin || from === publicOrigin;
    } catch {
      return false;
    }
  }
  const site = req.headers['sec-fetch-site'];
  if (site === undefined) return origin === undefined;
  return site === 'same-origin' || site === 'none';
}

function givenCsrf(req: FastifyRequest): string | undefined {
  const header = req.headers[CSRF_HEADER];
  if (typeof header === 'string' && header) return header;
  const body = req.body as Record<string, unknown> | undefined;
  const field = body && typeof body === 'object' ? body[CSRF_FIELD] : undefined;
  return typeof field === 'string' && field ? field : undefined;
}

/** A browser navigating to a page (not the API, not htmx, not bull-board's fetches). */
function wantsPage(req: FastifyRequest): boolean {
  return (
    req.method === 'GET' &&
    !wantsJson(req) &&
    !isHtmx(req) &&
    (req.headers.accept ?? '').includes('text/html')
  );
}

function unauthenticated(req: FastifyRequest, reply: FastifyReply) {
  if (wantsPage(req)) {
    const next = encodeURIComponent(req.url);
    return reply.redirect(`/admin/login?next=${next}`, 302);
  }
  if (isHtmx(req)) reply.header('hx-redirect', '/admin/login');
  return sendError(reply, 401, 'unauthorized', 'Sign in to the admin panel first.');
}

/** Where an account that must choose a new password is sent (the form is on its profile page). */
export const PASSWORD_CHANGE_PAGE = '/admin/profile';

/** The first-start owner (and any account flagged so) does nothing before choosing its own password. */
function passwordChangeFirst(req: FastifyRequest, reply: FastifyReply) {
  if (wantsPage(req)) return reply.redirect(PASSWORD_CHANGE_PAGE, 303);
  if (isHtmx(req)) reply.header('hx-redirect', PASSWORD_CHANGE_PAGE);
  return sendError(
    reply,
    403,
    'password_change_required',
    'Choose a new password first: POST /admin/api/profile/password {"current", "password"}.',
  );
}

/**
 * Sessions, roles and CSRF for every route of the admin context (routes and plugins registered
 * after this): onRequest resolves the cookie's session and refuses by role before the body is even
 * read; preHandler checks the CSRF token (or the origin) of every mutating request.
 */
export function installAuth(f: FastifyInstance, app: App): void {
  f.addHook('onRequest', async (req, reply) => {
    // Same-origin requests carry their Origin (helmet's default no-referrer turns it into "null").
    reply.header('referrer-policy', 'same-origin');
    const access = accessOf(req);
    // Assets and the health probe never need to know who asks: no session lookup for them.
    if (access === 'public' && (req.url.startsWith('/admin/assets/') || req.url === '/admin/health')) return;
    const token = req.cookies[SESSION_COOKIE];
    if (token) {
      const active = await app.admin.auth.resolve(token);
      if (active) {
        req.admin = active.admin;
        req.adminSession = active.session;
      } else {
        clearSessionCookie(app, req, reply);
      }
    }
    if (access === 'public') return;
    if (!req.admin) return unauthenticated(req, reply);
    if (!hasRole(req.admin, access)) {
      req.log.info(
        { admin: req.admin.username, role: req.admin.role, url: req.url },
        'admin request forbidden',
      );
      const message = `This needs the ${access} role; you are ${req.admin.role}.`;
      if (wantsPage(req)) {
        const page = errorPage({ admin: req.admin, csrf: req.adminSession?.csrf_token ?? '' }, 403, message);
        return reply.status(403).type('text/html; charset=utf-8').send(page.value);
      }
      return sendError(reply, 403, 'forbidden', message);
    }
    if (req.admin.password_change_required && !req.routeOptions.config?.beforePasswordChange) {
      return passwordChangeFirst(req, reply);
    }
  });

  const publicOrigin = app.config.PUBLIC_URL ? new URL(app.config.PUBLIC_URL).origin : undefined;
  f.addHook('preHandler', async (req, reply) => {
    if (isSafeMethod(req.method)) return;
    if (!sameOrigin(req, publicOrigin)) {
      req.log.warn({ url: req.url, origin: req.headers.origin }, 'cross-site admin request refused');
      return sendError(reply, 403, 'csrf_failed', 'Cross-site request refused.');
    }
    const mode = req.routeOptions.config?.csrf ?? (req.url.startsWith('/admin/queues/') ? 'origin' : 'token');
    if (mode === 'origin') return;
    const expected = mode === 'login' ? req.cookies[LOGIN_CSRF_COOKIE] : req.adminSession?.csrf_token;
    const given = givenCsrf(req);
    if (!expected || !given || !safeEqual(given, expected)) {
      req.log.warn({ url: req.url, admin: req.admin?.username }, 'admin request with a bad CSRF token');
      return sendError(
        reply,
        403,
        'csrf_failed',
        'The form expired or the CSRF token is missing. Reload the page.',
      );
    }
  });
}
