import { Api } from 'grammy';
import { ALLOWED_UPDATES } from '../bot/index.js';
import type { Command } from './commands.js';

/** Manage the webhook registration at Telegram (or any Bot API server at TELEGRAM_API_ROOT). */
export const webhookCommand: Command = {
  usage: 'set [--drop-pending-updates] | delete [--drop-pending-updates] | info',
  describe: 'register, remove or show the Telegram webhook',
  async run(args, config) {
    const [action, ...flags] = args;
    const drop = flags.includes('--drop-pending-updates');
    if (!config.BOT_TOKEN) {
      process.stderr.write('BOT_TOKEN is required\n');
      return 78;
    }
    const api = new Api(config.BOT_TOKEN, { apiRoot: config.TELEGRAM_API_ROOT });
    if (action === 'set') {
      if (!config.WEBHOOK_URL || !config.WEBHOOK_SECRET) {
        process.stderr.write('WEBHOOK_URL and WEBHOOK_SECRET are required to set the webhook\n');
        return 78;
      }
      await api.setWebhook(config.WEBHOOK_URL, {
        secret_token: config.WEBHOOK_SECRET,
        allowed_updates: [...ALLOWED_UPDATES],
        drop_pending_updates: drop,
      });
      process.stdout.write(
        `webhook set to ${config.WEBHOOK_URL}${drop ? ' (pending updates dropped)' : ''}\n`,
      );
      return 0;
    }
    if (action === 'delete') {
      await api.deleteWebhook({ drop_pending_updates: drop });
      process.stdout.write(`webhook deleted${drop ? ' (pending updates dropped)' : ''}\n`);
      return 0;
    }
    if (action === 'info') {
      process.stdout.write(`${JSON.stringify(await api.getWebhookInfo(), null, 2)}\n`);
      return 0;
    }
    process.stderr.write(`usage: vitte webhook ${webhookCommand.usage}\n`);
    return 2;
  },
};
