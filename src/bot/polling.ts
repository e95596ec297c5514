import { run } from '@grammyjs/runner';
import type { Bot } from 'grammy';
import type { BotContext, BotDeps } from './context.js';
import { ALLOWED_UPDATES, publishCommands } from './index.js';

/**
 * Long polling with grammY's runner (concurrent across chats, sequential within one).
 * Returns the stop function: it stops fetching and waits for the updates in progress.
 */
export async function startPolling(bot: Bot<BotContext>, deps: Pick<BotDeps, 'i18n' | 'logger'>) {
  await bot.init();
  // getUpdates refuses to work while a webhook is set; polling mode means we own the updates.
  const info = await bot.api.getWebhookInfo();
  if (info.url) {
    deps.logger.warn({ url: info.url }, 'removing the webhook to receive updates by polling');
    await bot.api.deleteWebhook();
  }
  await publishCommands(bot.api, deps);
  const handle = run(bot, {
    runner: { fetch: { allowed_updates: [...ALLOWED_UPDATES] }, retryInterval: 'exponential' },
  });
  deps.logger.info({ bot: bot.botInfo.username }, 'polling for updates');
  return async () => {
    if (handle.isRunning()) await handle.stop();
  };
}
