import { sequentialize } from '@grammyjs/runner';
import { type Api, Bot } from 'grammy';
import type { BotCommand } from 'grammy/types';
import { installTransformers } from '../integrations/telegram/telegram-api.js';
import { LOCALES } from '../platform/i18n/i18n.js';
import { createRateLimiter } from '../platform/rate-limit.js';
import { closeRedis, createFailFastRedis, type Redis } from '../platform/redis.js';
import { RedisOrMemory } from '../platform/redis-or-memory.js';
import type { BotContext, BotDeps } from './context.js';
import { paymentUpdates } from './handlers/payments.handler.js';
import { rateLimit, refuseBanned } from './middlewares/access.middleware.js';
import { dedupe } from './middlewares/dedupe.middleware.js';
import { locale } from './middlewares/locale.middleware.js';
import { observe } from './middlewares/observe.middleware.js';
import { loadUser } from './middlewares/user.middleware.js';
import { Notices } from './notices.js';
import { handlers } from './routes.js';
import { UpdateClaims } from './update-claims.js';
import { cleanUpdate } from './update-intake.js';

export type { BotContext } from './context.js';

export interface CreateBotOptions {
  token: string;
  apiRoot: string;
  redis?: Redis | undefined;
}

/** Update ids remembered in memory (without Redis, or while it is down) for 24 h. */
const CLAIMS_MEMORY_ENTRIES = 500_000;

/** The updates the bot asks Telegram for (polling and webhook alike). */
export const ALLOWED_UPDATES = ['message', 'callback_query', 'pre_checkout_query', 'my_chat_member'] as const;

/** Commands shown in Telegram's menu, in menu order; descriptions come from `cmd-<name>` translations. */
export const MENU_COMMANDS = [
  'start',
  'help',
  'new',
  'dialogs',
  'reset',
  'persona',
  'stop',
  'image',
  'status',
  'buy',
  'language',
  'settings',
  'paysupport',
  'privacy',
  'terms',
];

/**
 * The grammY bot: middlewares, then handlers, in this one visible order.
 * The same instance serves long polling (runner) and webhooks (api role).
 */
export function createBot(deps: BotDeps, opts: CreateBotOptions): Bot<BotContext> {
  const bot = new Bot<BotContext>(opts.token, { client: { apiRoot: opts.apiRoot } });
  installTransformers(bot.api, {
    maxRetries: deps.config.TELEGRAM_MAX_RETRIES,
    logger: deps.logger,
    metrics: deps.metrics,
    onBlocked: (chatId) => deps.users.markBotBlocked(chatId),
  });
  // The update path's own connection: it fails fast, and then dedupe, rate limits and notices run
  // in this process's memory until Redis is back.
  const fast = opts.redis
    ? createFailFastRedis(opts.redis, deps.logger, deps.config.REDIS_UPDATE_TIMEOUT_MS, 'updates')
    : undefined;
  const store = new RedisOrMemory(fast, deps.logger, deps.metrics);
  const prefix = deps.config.REDIS_PREFIX;
  const claims = new UpdateClaims(store, prefix, deps.config.BOT_UPDATE_LEASE_MS, CLAIMS_MEMORY_ENTRIES);
  deps.lifecycle.onClose('bot-update-path', async () => {
    claims.close();
    if (fast) await closeRedis(fast);
  });
  const limiter = createRateLimiter({
    redis: fast,
    keyPrefix: `${prefix}:rl:user`,
    points: deps.config.BOT_RATE_LIMIT_POINTS,
    durationS: deps.config.BOT_RATE_LIMIT_WINDOW_S,
    onFallback: (err) => store.fellBack('rate_limit', err),
  });
  const notices = new Notices(store, prefix);

  // Middlewares
  bot.use(observe(deps)); // deps on ctx, metrics, error boundary
  bot.use(cleanUpdate(deps)); // no NUL, nothing longer than Telegram allows
  bot.use(paymentUpdates); // money first: bypasses everything below (see the handler)
  bot.use(sequentialize((ctx) => ctx.chat?.id.toString() ?? ctx.from?.id.toString())); // one update per chat at a time
  bot.use(dedupe(claims, limiter, deps)); // each update_id once, done only once its effects are committed
  bot.use(loadUser()); // register or load, activity
  bot.use(locale()); // ctx.t in the user's language
  bot.use(refuseBanned(notices));
  bot.use(rateLimit(notices, deps));

  // Handlers, reached by the kind of update (see routes.ts)
  bot.use(handlers());

  // Errors are handled by observe(); this only catches what escapes it (e.g. inside the runner).
  bot.catch((err) =>
    deps.logger.error({ err: err.error, updateId: err.ctx.update.update_id }, 'unhandled bot error'),
  );
  return bot;
}

/**
 * Publish the command menu for every locale (English is also the default). Each menu is its own
 * call: one failing is logged, not fatal, and does not keep the others from being published.
 */
export async function publishCommands(api: Api, deps: Pick<BotDeps, 'i18n' | 'logger'>): Promise<void> {
  const menu = (locale: string): BotCommand[] =>
    MENU_COMMANDS.map((command) => ({ command, description: deps.i18n.t(locale, `cmd-${command}`) }));
  const published: string[] = [];
  for (const locale of ['default', ...LOCALES] as const) {
    try {
      if (locale === 'default') await api.setMyCommands(menu('en'));
      else await api.setMyCommands(menu(locale), { language_code: locale });
      published.push(locale);
    } catch (err) {
      deps.logger.warn({ err, locale }, 'could not publish bot commands');
    }
  }
  if (published.length) deps.logger.info({ locales: published }, 'bot commands published');
}
