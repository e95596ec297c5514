import type { Update, WebhookInfo } from 'grammy/types';
import { BotApiError, badRequest, DescribedResult } from '../bot-api-error.js';
import type { MethodContext, MethodTable } from './method-context.js';

const MAX_POLL_SECONDS = 50;

const webhookConflict = (): BotApiError =>
  new BotApiError(
    409,
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
  );

function allowedUpdates(ctx: MethodContext): string[] | undefined {
  const list = ctx.params.json<string[]>('allowed_updates', "can't parse allowed updates JSON object");
  if (list !== undefined && (!Array.isArray(list) || list.some((t) => typeof t !== 'string'))) {
    throw badRequest("can't parse allowed updates JSON object");
  }
  return list;
}

async function getUpdates(ctx: MethodContext): Promise<Update[]> {
  if (ctx.webhook.active) throw webhookConflict();
  const offset = ctx.params.int('offset');
  const limit = Math.min(100, Math.max(1, ctx.params.int('limit') ?? 100));
  const timeout = Math.min(MAX_POLL_SECONDS, Math.max(0, ctx.params.int('timeout') ?? 0));
  ctx.queue.setAllowedUpdates(allowedUpdates(ctx));
  return ctx.queue.poll(offset, limit, timeout, (cb) => ctx.onClientClose(cb));
}

function setWebhook(ctx: MethodContext): DescribedResult {
  const { params } = ctx;
  const url = params.string('url') ?? '';
  if (url === '') return deleteWebhook(ctx);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw badRequest('invalid webhook URL specified');
  }
  // Telegram wants HTTPS; the emulator also takes plain HTTP because it delivers to local servers.
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw badRequest('bad webhook: An HTTPS URL must be provided for webhook');
  }
  const secret = params.string('secret_token');
  if (secret !== undefined && !/^[A-Za-z0-9_-]{1,256}$/.test(secret)) {
    throw badRequest('secret token contains unallowed characters');
  }
  const maxConnections = params.int('max_connections') ?? 40;
  if (maxConnections < 1 || maxConnections > 100) throw badRequest('invalid max_connections specified');
  ctx.queue.setAllowedUpdates(allowedUpdates(ctx));
  if (params.bool('drop_pending_updates')) ctx.queue.drop();
  const wasSame = ctx.webhook.active && ctx.webhook.info(undefined).url === url;
  ctx.queue.releaseWaiters(
    new BotApiError(
      409,
      'Conflict: terminated by setWebhook request; make sure that only one bot instance is running',
    ),
  );
  ctx.webhook.set({ url, ...(secret ? { secretToken: secret } : {}), maxConnections });
  return new DescribedResult(true, wasSame ? 'Webhook is already set' : 'Webhook was set');
}

function deleteWebhook(ctx: MethodContext): DescribedResult {
  if (ctx.params.bool('drop_pending_updates')) ctx.queue.drop();
  const was = ctx.webhook.active;
  ctx.webhook.clear();
  return new DescribedResult(true, was ? 'Webhook was deleted' : 'Webhook is already deleted');
}

function getWebhookInfo(ctx: MethodContext): WebhookInfo {
  return ctx.webhook.info(ctx.queue.allowedUpdates);
}

export const updateMethods: MethodTable = { getUpdates, setWebhook, deleteWebhook, getWebhookInfo };
