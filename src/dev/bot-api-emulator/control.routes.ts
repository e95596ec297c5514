import type { FastifyInstance } from 'fastify';
import type { Update } from 'grammy/types';
import { body, ControlError, optionalInt } from './control-input.js';
import type { EmulatorCore } from './emulator-core.js';
import type { EventStreams } from './event-stream.js';
import { registerPaymentControlRoutes } from './payment-control.routes.js';
import type { FaultSpec, FloodLimits, WebhookRetry } from './types.js';
import type { InjectCallbackQueryInput, InjectMessageInput } from './update-factory.js';

function limit(value: unknown, name: string): number | null | undefined {
  if (value === undefined) return undefined;
  if (value === null || value === 0) return null;
  if (typeof value !== 'number' || !(value > 0))
    throw new ControlError(`${name} must be a positive number or null`);
  return value;
}

function floodChange(raw: Record<string, unknown>): Partial<FloodLimits> {
  const out: Partial<FloodLimits> = {};
  const g = limit(raw.globalPerSecond, 'globalPerSecond');
  const c = limit(raw.perChatPerSecond, 'perChatPerSecond');
  const p = limit(raw.perGroupPerMinute, 'perGroupPerMinute');
  if (g !== undefined) out.globalPerSecond = g;
  if (c !== undefined) out.perChatPerSecond = c;
  if (p !== undefined) out.perGroupPerMinute = p;
  if (raw.perChatBurst !== undefined) {
    if (!Number.isInteger(raw.perChatBurst) || (raw.perChatBurst as number) < 1) {
      throw new ControlError('perChatBurst must be a positive integer');
    }
    out.perChatBurst = raw.perChatBurst as number;
  }
  return out;
}

function retryChange(raw: Record<string, unknown>): Partial<WebhookRetry> {
  const out: Partial<WebhookRetry> = {};
  for (const key of ['initialMs', 'maxMs', 'timeoutMs'] as const) {
    const v = raw[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !(v > 0))
      throw new ControlError(`webhookRetry.${key} must be a positive number`);
    out[key] = v;
  }
  return out;
}

/** `/_emulator/…`: inject updates, read what the bot did, configure simulations, follow events. */
export function registerControlRoutes(app: FastifyInstance, core: EmulatorCore, streams: EventStreams): void {
  const { store, queue, calls } = core;
  const inject = (make: () => Update) => core.deliver(make());

  app.get('/_emulator/info', async () => ({
    bot: store.botUser,
    webhook: core.webhook.info(queue.allowedUpdates),
    config: core.config(),
    methods: core.dispatcher.methodNames,
  }));

  app.post('/_emulator/updates/message', async (req) =>
    inject(() => core.factory.message(body<InjectMessageInput>(req.body))),
  );
  app.post('/_emulator/updates/callback-query', async (req) =>
    inject(() => core.factory.callbackQuery(body<InjectCallbackQueryInput>(req.body))),
  );
  app.post('/_emulator/updates', async (req) => inject(() => core.factory.raw(body(req.body))));
  app.post('/_emulator/updates/redeliver', async (req) => {
    const id = optionalInt(body<{ update_id?: unknown }>(req.body).update_id, 'update_id');
    if (id === undefined) throw new ControlError('update_id is required');
    return core.redeliver(id);
  });
  app.get('/_emulator/updates', async () => queue.log);

  app.get<{ Querystring: Record<string, string | undefined> }>('/_emulator/calls', async (req) => {
    const q = req.query;
    return calls.list({
      ...(q.method ? { method: q.method } : {}),
      ...(q.chat_id ? { chatId: optionalInt(q.chat_id, 'chat_id') } : {}),
      ...(q.since ? { since: optionalInt(q.since, 'since') } : {}),
    });
  });

  app.get('/_emulator/chats', async () =>
    [...store.chats.values()].map((s) => ({
      chat: s.chat,
      messages: s.messages.size,
      last_message: [...s.messages.values()].at(-1),
    })),
  );
  app.get<{ Params: { id: string } }>('/_emulator/chats/:id/messages', async (req) => {
    const view = store.conversation(optionalInt(req.params.id, 'id') ?? 0);
    if (!view) throw new ControlError('chat not found', 404);
    return view;
  });

  const byChat = <T extends { chat_id?: number }>(list: T[], chatId: unknown) => {
    const id = optionalInt(chatId, 'chat_id');
    return id === undefined ? list : list.filter((r) => r.chat_id === id);
  };
  app.get<{ Querystring: { chat_id?: string } }>('/_emulator/drafts', async (req) =>
    byChat(
      [...store.chats.values()].flatMap((s) => [...s.drafts.values()]),
      req.query.chat_id,
    ),
  );
  app.get<{ Querystring: { chat_id?: string } }>('/_emulator/chat-actions', async (req) =>
    byChat(
      [...store.chats.values()].flatMap((s) => s.actions),
      req.query.chat_id,
    ),
  );
  app.get('/_emulator/callback-answers', async () => store.callbackAnswers);
  app.get('/_emulator/commands', async () => [...store.commands.values()]);

  app.get<{ Params: { fileId: string } }>('/_emulator/files/:fileId', async (req, reply) => {
    const file = store.files.get(req.params.fileId);
    if (!file?.data) throw new ControlError('file not found', 404);
    return reply.type(file.mimetype).header('cache-control', 'private, max-age=3600').send(file.data);
  });

  app.get<{ Querystring: { chat_id?: string } }>('/_emulator/events', (req, reply) => {
    streams.stream(reply, optionalInt(req.query.chat_id, 'chat_id'));
  });

  app.get('/_emulator/config', async () => core.config());
  app.put('/_emulator/config', async (req) => {
    const b = body<{
      flood?: Record<string, unknown>;
      webhookRetry?: Record<string, unknown>;
      preCheckoutTimeoutMs?: unknown;
    }>(req.body);
    const timeout = b.preCheckoutTimeoutMs;
    if (timeout !== undefined && (!Number.isInteger(timeout) || (timeout as number) <= 0)) {
      throw new ControlError('preCheckoutTimeoutMs must be a positive integer');
    }
    return core.configure({
      ...(b.flood ? { flood: floodChange(body(b.flood)) } : {}),
      ...(b.webhookRetry ? { webhookRetry: retryChange(body(b.webhookRetry)) } : {}),
      ...(timeout !== undefined ? { preCheckoutTimeoutMs: timeout as number } : {}),
    });
  });

  app.get('/_emulator/faults', async () => core.faults.list());
  app.post('/_emulator/faults', async (req) => {
    try {
      return core.faults.add(body<FaultSpec>(req.body));
    } catch (err) {
      if (err instanceof RangeError) throw new ControlError(err.message);
      throw err;
    }
  });
  app.delete('/_emulator/faults', async () => {
    core.faults.clear();
    return { ok: true };
  });

  app.get('/_emulator/blocked', async () => [...store.blocked]);
  app.put<{ Params: { userId: string }; Body: { notify?: boolean } | undefined }>(
    '/_emulator/blocked/:userId',
    async (req) => {
      const id = optionalInt(req.params.userId, 'userId');
      if (!id || id <= 0) throw new ControlError('userId must be a positive integer');
      core.setBlocked(id, true, req.body?.notify === true);
      return { ok: true };
    },
  );
  app.delete<{ Params: { userId: string }; Querystring: { notify?: string } }>(
    '/_emulator/blocked/:userId',
    async (req) => {
      const id = optionalInt(req.params.userId, 'userId');
      if (!id || id <= 0) throw new ControlError('userId must be a positive integer');
      core.setBlocked(id, false, req.query.notify === 'true');
      return { ok: true };
    },
  );

  registerPaymentControlRoutes(app, core);

  app.post('/_emulator/reset', async () => {
    core.reset();
    return { ok: true };
  });
  app.get('/_emulator/stats', async () => core.stats());
}
