import type { FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { ValidationError, type ValidationIssue } from '../platform/errors.js';
import { adminOf, csrfTokenOf, isHtmx } from './auth.js';
import type { SafeHtml } from './html.js';
import { type PageContext, type PageOptions, page } from './views/layout.view.js';

export function pageContext(req: FastifyRequest): PageContext {
  return { admin: adminOf(req), csrf: csrfTokenOf(req) };
}

export function sendHtml(reply: FastifyReply, body: SafeHtml, status = 200): FastifyReply {
  return reply
    .status(status)
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .send(body.value);
}

/** A whole page, or only `fragment` when htmx asked for a part of it. */
export function sendPage(
  req: FastifyRequest,
  reply: FastifyReply,
  opts: PageOptions & { fragment?: SafeHtml },
  status = 200,
): FastifyReply {
  if (opts.fragment && isHtmx(req)) return sendHtml(reply, opts.fragment, status);
  return sendHtml(reply, page(pageContext(req), { ...opts, flash: opts.flash ?? flashOf(req) }), status);
}

/** After a form post: 303 to the page showing the result (htmx follows it with a full navigation). */
export function redirectTo(req: FastifyRequest, reply: FastifyReply, url: string): FastifyReply {
  if (isHtmx(req)) return reply.header('hx-redirect', url).status(204).send();
  return reply.redirect(url, 303);
}

const FLASH: Record<string, string> = {
  banned: 'The user is banned. The bot refuses them from their next message on.',
  unbanned: 'The user is unbanned.',
  plan: 'The plan was granted.',
  quota: 'The quota was reset.',
  admin_on: 'The user is now a bot admin.',
  admin_off: 'The user is no longer a bot admin.',
  saved: 'Saved.',
  reset: 'Reset to the default.',
  created: 'Created.',
  started: 'Started.',
  scheduled: 'Scheduled.',
  paused: 'Paused.',
  resumed: 'Resumed.',
  cancelled: 'Cancelled.',
  sent: 'Test message sent.',
  refund:
    'Refund requested: it is sent to Telegram now, and what the payment granted is taken back once Telegram confirms.',
  password: 'Password changed. Your other sessions were signed out.',
};

export function flashOf(req: FastifyRequest): PageOptions['flash'] {
  const code = (req.query as Record<string, unknown> | undefined)?.done;
  const text = typeof code === 'string' ? FLASH[code] : undefined;
  return text ? { kind: 'ok', text } : undefined;
}

/** Validate input with zod; a failure is a ValidationError listing each field (path joined with "."). */
export function parse<S extends z.ZodType>(schema: S, data: unknown): z.output<S> {
  const res = schema.safeParse(data ?? {});
  if (!res.success) {
    const issues = res.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
    const summary = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
    throw new ValidationError(`invalid input: ${summary}`, { issues });
  }
  return res.data;
}

/**
 * Runs a form's action. Rejected input comes back as its issues, for the page to show the form
 * again beside them; any other failure propagates. Undefined when the action went through.
 */
export async function rejectedInput(action: () => Promise<unknown>): Promise<ValidationIssue[] | undefined> {
  try {
    await action();
    return undefined;
  } catch (err) {
    const issues = issuesOf(err);
    if (!issues.length) throw err;
    return issues;
  }
}

/** The field issues of a ValidationError (empty for anything else). */
export function issuesOf(err: unknown): ValidationIssue[] {
  if (!(err instanceof ValidationError)) return [];
  return err.issues.length ? [...err.issues] : [{ path: '', message: err.message }];
}
