import { Composer, type MiddlewareFn } from 'grammy';
import type { BotContext } from './context.js';
import { buyHandler } from './handlers/buy.handler.js';
import { chatHandler } from './handlers/chat.handler.js';
import { dialogsHandler } from './handlers/dialogs.handler.js';
import { fallbackHandler } from './handlers/fallback.handler.js';
import { imagesHandler } from './handlers/images.handler.js';
import { languageHandler } from './handlers/language.handler.js';
import { legalHandler } from './handlers/legal.handler.js';
import { membershipHandler } from './handlers/membership.handler.js';
import { settingsHandler } from './handlers/settings.handler.js';
import { startHandler } from './handlers/start.handler.js';
import { statusHandler } from './handlers/status.handler.js';

/** Every handler, in order: what an update no route below knows goes through. */
const ALL = [
  membershipHandler,
  startHandler,
  statusHandler,
  buyHandler,
  legalHandler,
  languageHandler,
  dialogsHandler,
  settingsHandler,
  imagesHandler,
  chatHandler,
  fallbackHandler,
];

/** The handler of each command (a command missing here still works: it takes the full chain). */
const COMMANDS: Record<string, Composer<BotContext>> = {
  start: startHandler,
  help: startHandler,
  status: statusHandler,
  buy: buyHandler,
  privacy: legalHandler,
  terms: legalHandler,
  paysupport: legalHandler,
  language: languageHandler,
  new: dialogsHandler,
  dialogs: dialogsHandler,
  reset: dialogsHandler,
  persona: dialogsHandler,
  settings: settingsHandler,
  stop: chatHandler,
  image: imagesHandler,
  imagine: imagesHandler,
};

/** Which route an update takes; undefined: the full chain. */
function routeOf(ctx: BotContext): string | undefined {
  if (ctx.callbackQuery) return 'button';
  if (ctx.myChatMember) return 'membership';
  const text = ctx.message?.text;
  if (text === undefined) return undefined;
  const entity = ctx.message?.entities?.[0];
  if (entity?.type !== 'bot_command' || entity.offset !== 0) return 'text';
  const [name = '', target] = text.slice(1, entity.length).split('@');
  // "/status@somebot" and commands without a route: grammY's own filters decide.
  return target === undefined && Object.hasOwn(COMMANDS, name) ? `/${name}` : undefined;
}

/**
 * The handlers, reached straight by the kind of update: a command goes to its own handler, plain
 * text to the chat, a button press to the handlers with buttons. grammY tries every filter of every
 * handler in turn (a dozen or so for a chat message, each with its promises); a route costs one.
 * Whatever a route does not handle ends in the fallback, as at the end of the full chain; updates
 * of other kinds take the full chain. Each chain is composed once, here: grammY's own
 * `Composer.route` builds a new Composer for every update.
 */
export function handlers(): MiddlewareFn<BotContext> {
  const all = new Composer<BotContext>(...ALL).middleware();
  const then = (...handlers: Composer<BotContext>[]) =>
    new Composer<BotContext>(...handlers, fallbackHandler).middleware();
  const routes = new Map<string, MiddlewareFn<BotContext>>([
    ...Object.entries(COMMANDS).map(([name, h]) => [`/${name}`, then(h)] as const),
    ['text', then(chatHandler)],
    [
      'button',
      then(buyHandler, languageHandler, dialogsHandler, settingsHandler, imagesHandler, chatHandler),
    ],
    ['membership', then(membershipHandler)],
  ]);
  return (ctx, next) => {
    const route = routeOf(ctx);
    return ((route && routes.get(route)) || all)(ctx, next);
  };
}
