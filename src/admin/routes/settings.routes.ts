import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { App } from '../../app.js';
import { isSettingKey, type SettingKey } from '../../domain/settings/settings.definitions.js';
import type { SettingView } from '../../domain/settings/settings.service.js';
import { NotFoundError } from '../../platform/errors.js';
import { actorOf, csrfTokenOf, hasRole } from '../auth.js';
import type { SafeHtml } from '../html.js';
import { parse, redirectTo, rejectedInput, sendPage } from '../respond.js';
import { editorFor } from '../views/setting-editors.js';
import { cardId, settingCard, settingsBody } from '../views/settings.view.js';

const keyParams = z.object({ key: z.string().max(100) });
const putBody = z.object({ value: z.unknown() }).refine((b) => b.value !== undefined, 'value is required');

export function settingsRoutes(app: App) {
  const keyOf = (req: FastifyRequest): SettingKey => {
    const { key } = parse(keyParams, req.params);
    if (!isSettingKey(key)) throw new NotFoundError(`unknown setting "${key}"`);
    return key;
  };
  const find = async (key: SettingKey): Promise<SettingView> =>
    (await app.settings.list()).find((s) => s.key === key)!;

  /** Validate, store and audit in one transaction; the settings service tells every process. */
  const save = (req: FastifyRequest, key: SettingKey, value: unknown) =>
    app.admin.settings.set(actorOf(req), key, value);
  const reset = (req: FastifyRequest, key: SettingKey) => app.admin.settings.reset(actorOf(req), key);

  const page = async (
    req: FastifyRequest,
    reply: FastifyReply,
    replace?: { key: SettingKey; card: SafeHtml },
    status = 200,
  ) => {
    const body = settingsBody(
      await app.settings.list(),
      csrfTokenOf(req),
      hasRole(req.admin, 'admin'),
      replace,
    );
    return sendPage(
      req,
      reply,
      { title: 'Settings', section: 'settings', body, ...(replace ? { fragment: replace.card } : {}) },
      status,
    );
  };

  return async (f: FastifyInstance) => {
    f.get('/admin/settings', (req, reply) => page(req, reply));

    f.post('/admin/settings/:key', async (req, reply) => {
      const key = keyOf(req);
      const form = (req.body ?? {}) as Record<string, string>;
      let value: unknown;
      const issues = await rejectedInput(async () => {
        value = editorFor(key).parse(form);
        await save(req, key, value);
      });
      if (issues) {
        const current = await find(key);
        const card = settingCard({
          setting: { ...current, value: value ?? current.value },
          csrf: csrfTokenOf(req),
          canEdit: true,
          issues,
        });
        return page(req, reply, { key, card }, 422);
      }
      const card = settingCard({
        setting: await find(key),
        csrf: csrfTokenOf(req),
        canEdit: true,
        saved: true,
      });
      if (req.headers['hx-request'] === 'true')
        return sendPage(req, reply, { title: 'Settings', section: 'settings', body: card, fragment: card });
      return redirectTo(req, reply, `/admin/settings?done=saved#${cardId(key)}`);
    });

    f.post('/admin/settings/:key/reset', async (req, reply) => {
      const key = keyOf(req);
      await reset(req, key);
      return redirectTo(req, reply, `/admin/settings?done=reset#${cardId(key)}`);
    });

    f.get('/admin/api/settings', async () => ({ items: await app.settings.list() }));

    f.get('/admin/api/settings/:key', async (req) => find(keyOf(req)));

    f.put('/admin/api/settings/:key', async (req) => {
      const key = keyOf(req);
      const { value } = parse(putBody, req.body);
      await save(req, key, value);
      return find(key);
    });

    f.delete('/admin/api/settings/:key', async (req, reply) => {
      await reset(req, keyOf(req));
      return reply.status(204).send();
    });
  };
}
