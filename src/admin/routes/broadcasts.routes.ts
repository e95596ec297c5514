import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { App } from '../../app.js';
import { contentIssues } from '../../domain/broadcasts/broadcasts.validation.js';
import { parseTelegramHtml } from '../../integrations/telegram/format/telegram-html.js';
// Audiences arrive unchecked; the broadcasts service validates them and reports each problem.
import type { Broadcast, BroadcastAudience } from '../../platform/db/schema.js';
import { AppError, ValidationError, type ValidationIssue } from '../../platform/errors.js';
import { actorOf, adminOf, csrfTokenOf, hasRole } from '../auth.js';
import { html } from '../html.js';
import { issuesOf, parse, redirectTo, sendHtml, sendPage } from '../respond.js';
import {
  audienceCount,
  broadcastBody,
  broadcastsBody,
  type ComposeForm,
  composeBody,
  previewPanel,
  progressPanel,
} from '../views/broadcasts.view.js';
import { notice } from '../views/components.js';
import { renderEntities } from '../views/telegram-preview.js';

const idParams = z.object({ id: z.coerce.number().int().positive() });
const listQuery = z.object({
  before: z.coerce.number().int().positive().optional(),
  // One more than this is asked for to know whether a next page exists; the service allows 200.
  limit: z.coerce.number().int().min(1).max(100).optional(),
});
const content = z.object({
  text: z.string().max(20_000),
  photo: z.string().max(4096).nullish(),
  buttonText: z.string().max(500).nullish(),
  buttonUrl: z.string().max(4096).nullish(),
});
const isoTime = z
  .string()
  .transform((s) => new Date(s))
  .refine((d) => Number.isFinite(d.getTime()), 'an ISO date-time');
const createBody = content.extend({ audience: z.unknown(), scheduledAt: isoTime.nullish() });
const scheduleBody = z.object({ at: isoTime });
const audienceBody = z.object({ audience: z.unknown() });

/** datetime-local has no zone; the form labels it UTC. */
function formTime(s: string | undefined): Date | null | 'invalid' {
  if (!s?.trim()) return null;
  const d = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(s) ? s : `${s}Z`);
  return Number.isFinite(d.getTime()) ? d : 'invalid';
}

function formAudience(f: ComposeForm): unknown {
  switch (f.audience) {
    case 'active':
      return { kind: 'active', days: Number(f.days) };
    case 'plan':
      return { kind: 'plan', plan: f.plan ?? '' };
    case 'language':
      return { kind: 'language', language: (f.language ?? '').trim().toLowerCase() };
    default:
      return { kind: 'all' };
  }
}

function formContent(f: ComposeForm) {
  return {
    text: f.text ?? '',
    photo: f.photo || null,
    buttonText: f.buttonText || null,
    buttonUrl: f.buttonUrl || null,
  };
}

const ACTIONS = ['start', 'pause', 'resume', 'cancel', 'schedule'] as const;
type Action = (typeof ACTIONS)[number];

export function broadcastsRoutes(app: App) {
  const list = async (req: FastifyRequest) => {
    const q = parse(listQuery, req.query);
    const limit = q.limit ?? 50;
    const rows = await app.broadcasts.list({ limit: limit + 1, beforeId: q.before });
    const items = rows.slice(0, limit);
    return { q, items, nextCursor: rows.length > limit ? items[items.length - 1]!.id : null };
  };

  const plans = async () => Object.keys(await app.settings.get('plans'));

  /** Change a broadcast's state; the admin service writes its audit row in the same transaction. */
  const act = (req: FastifyRequest, id: number, action: Action, at?: Date): Promise<Broadcast> =>
    app.admin.broadcasts.act(
      actorOf(req),
      id,
      action,
      action === 'schedule' ? (at ?? parse(scheduleBody, req.body).at) : undefined,
    );

  const create = (req: FastifyRequest, input: z.output<typeof createBody>, start: boolean) =>
    app.admin.broadcasts.create(
      actorOf(req),
      { ...input, audience: input.audience as BroadcastAudience },
      start,
    );

  const testSend = async (req: FastifyRequest, input: z.output<typeof content>) => {
    const me = adminOf(req);
    if (!me.telegram_user_id) {
      throw new ValidationError('set your Telegram user id on your profile page first', {
        issues: [{ path: 'telegramUserId', message: 'not set (see your profile page)' }],
      });
    }
    return app.admin.broadcasts.testSend(actorOf(req), input, me.telegram_user_id);
  };

  const countOf = async (audience: unknown) => {
    try {
      return { count: await app.broadcasts.countAudience(audience as BroadcastAudience) };
    } catch (err) {
      const issues = issuesOf(err);
      if (!issues.length) throw err;
      return { error: issues.map((i) => i.message).join(' · ') };
    }
  };

  const composePage = async (
    req: FastifyRequest,
    reply: FastifyReply,
    form: ComposeForm,
    extra: { issues?: ValidationIssue[]; testResult?: ReturnType<typeof notice> } = {},
    status = 200,
  ) => {
    const [planNames, counted] = await Promise.all([plans(), countOf(formAudience(form))]);
    const body = composeBody({
      form,
      issues: extra.issues ?? [],
      plans: planNames,
      csrf: csrfTokenOf(req),
      count: counted.count,
      countError: counted.error,
      testResult: extra.testResult,
      telegramUserId: adminOf(req).telegram_user_id,
    });
    return sendPage(req, reply, { title: 'New broadcast', section: 'broadcasts', body }, status);
  };

  return async (f: FastifyInstance) => {
    const readOnly = { config: { adminAccess: 'viewer' as const } };

    f.get('/admin/broadcasts', async (req, reply) => {
      const { q, items, nextCursor } = await list(req);
      const canEdit = hasRole(req.admin, 'admin');
      const body = broadcastsBody({ items, nextCursor, first: q.before === undefined, canEdit });
      const actions = canEdit
        ? html`<a class="button" href="/admin/broadcasts/new">New broadcast</a>`
        : undefined;
      return sendPage(req, reply, { title: 'Broadcasts', section: 'broadcasts', body, actions });
    });

    f.get('/admin/broadcasts/new', { config: { adminAccess: 'admin' } }, (req, reply) =>
      composePage(req, reply, {}),
    );

    f.post('/admin/broadcasts', async (req, reply) => {
      const form = (req.body ?? {}) as ComposeForm & { intent?: string };
      const intent = form.intent === 'start' ? 'start' : form.intent === 'schedule' ? 'schedule' : 'draft';
      const at = formTime(form.scheduledAt);
      try {
        if (at === 'invalid')
          throw new ValidationError('invalid time', {
            issues: [{ path: 'scheduledAt', message: 'a date and time' }],
          });
        if (intent === 'schedule' && !at)
          throw new ValidationError('no time', {
            issues: [{ path: 'scheduledAt', message: 'choose when to send it' }],
          });
        const b = await create(
          req,
          {
            ...formContent(form),
            audience: formAudience(form),
            scheduledAt: intent === 'draft' || intent === 'schedule' ? at : null,
          },
          intent === 'start',
        );
        const done = intent === 'start' ? 'started' : b.status === 'scheduled' ? 'scheduled' : 'created';
        return redirectTo(req, reply, `/admin/broadcasts/${b.id}?done=${done}`);
      } catch (err) {
        const issues = issuesOf(err);
        if (!issues.length) throw err;
        return composePage(req, reply, form, { issues }, 422);
      }
    });

    f.post('/admin/broadcasts/preview', readOnly, async (req, reply) => {
      const form = (req.body ?? {}) as ComposeForm;
      const { issues } = contentIssues(formContent(form));
      return sendHtml(reply, previewPanel({ form, issues }));
    });

    f.post('/admin/broadcasts/audience', readOnly, async (req, reply) =>
      sendHtml(reply, audienceCount(await countOf(formAudience((req.body ?? {}) as ComposeForm)))),
    );

    f.post('/admin/broadcasts/test-send', async (req, reply) => {
      const form = (req.body ?? {}) as ComposeForm;
      let result: ReturnType<typeof notice>;
      let status = 200;
      try {
        const res = await testSend(req, formContent(form));
        result = notice('ok', `Sent to your Telegram (message ${res.messageId}).`);
      } catch (err) {
        if (!(err instanceof AppError) || err.status >= 500) throw err;
        result = notice(
          'error',
          issuesOf(err)
            .map((i) => i.message)
            .join(' · ') || err.message,
        );
        status = 422;
      }
      if (req.headers['hx-request'] === 'true') return sendHtml(reply, result, status);
      return composePage(req, reply, form, { testResult: result }, status);
    });

    f.get('/admin/broadcasts/:id', async (req, reply) => {
      const { id } = parse(idParams, req.params);
      const service = app.broadcasts;
      const [b, progress] = await Promise.all([service.get(id), service.progress(id)]);
      const body = broadcastBody({
        b,
        progress,
        csrf: csrfTokenOf(req),
        canEdit: hasRole(req.admin, 'admin'),
      });
      return sendPage(req, reply, { title: `Broadcast #${b.id}`, section: 'broadcasts', body });
    });

    f.get('/admin/broadcasts/:id/progress', async (req, reply) => {
      const { id } = parse(idParams, req.params);
      const service = app.broadcasts;
      const [b, progress] = await Promise.all([service.get(id), service.progress(id)]);
      // The page around the panel (actions, times) shows the status it was rendered with: reload it on a change.
      const shown = (req.query as { shown?: string }).shown;
      if (shown && shown !== b.status && req.headers['hx-request'] === 'true')
        reply.header('hx-refresh', 'true');
      return sendHtml(reply, progressPanel(b, progress));
    });

    for (const action of ACTIONS) {
      f.post(`/admin/broadcasts/:id/${action}`, async (req, reply) => {
        const { id } = parse(idParams, req.params);
        const at = action === 'schedule' ? formTime((req.body as { at?: string } | undefined)?.at) : null;
        if (action === 'schedule' && (!at || at === 'invalid')) {
          throw new ValidationError('choose a date and time (UTC)');
        }
        await act(req, id, action, at instanceof Date ? at : undefined);
        const done = {
          start: 'started',
          pause: 'paused',
          resume: 'resumed',
          cancel: 'cancelled',
          schedule: 'scheduled',
        }[action];
        return redirectTo(req, reply, `/admin/broadcasts/${id}?done=${done}`);
      });
      f.post(`/admin/api/broadcasts/:id/${action}`, async (req) =>
        act(req, parse(idParams, req.params).id, action),
      );
    }

    f.get('/admin/api/broadcasts', async (req) => {
      const { items, nextCursor } = await list(req);
      return { items, nextCursor };
    });

    f.post('/admin/api/broadcasts', async (req, reply) => {
      const body = parse(createBody, req.body);
      return reply.status(201).send(await create(req, body, false));
    });

    f.get('/admin/api/broadcasts/:id', async (req) => {
      const { id } = parse(idParams, req.params);
      const service = app.broadcasts;
      const [broadcast, progress] = await Promise.all([service.get(id), service.progress(id)]);
      return { broadcast, progress };
    });

    f.get('/admin/api/broadcasts/:id/progress', async (req) =>
      app.broadcasts.progress(parse(idParams, req.params).id),
    );

    f.post('/admin/api/broadcasts/preview', readOnly, async (req) => {
      const input = parse(content, req.body);
      const { issues } = contentIssues(input);
      let parsed: ReturnType<typeof parseTelegramHtml> | undefined;
      try {
        parsed = parseTelegramHtml(input.text);
      } catch {
        parsed = undefined;
      }
      return {
        ok: issues.length === 0,
        issues,
        text: parsed?.text ?? null,
        entities: parsed?.entities ?? [],
        html: parsed ? renderEntities(parsed.text, parsed.entities).value : null,
      };
    });

    f.post('/admin/api/broadcasts/audience-count', readOnly, async (req) => {
      const { audience } = parse(audienceBody, req.body);
      return { count: await app.broadcasts.countAudience(audience as BroadcastAudience) };
    });

    f.post('/admin/api/broadcasts/test-send', async (req) => testSend(req, parse(content, req.body)));
  };
}
