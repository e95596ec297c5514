import type { Context } from 'grammy';
import type { App } from '../app.js';
import type { User } from '../platform/db/schema.js';
import type { Locale, Translate } from '../platform/i18n/i18n.js';
import type { RateLimitDecision } from '../platform/rate-limit.js';

/** What handlers reach through `ctx.deps`: the app's services, never module singletons. */
export type BotDeps = Pick<
  App,
  | 'config'
  | 'logger'
  | 'metrics'
  | 'lifecycle'
  | 'users'
  | 'subscriptions'
  | 'imageCredits'
  | 'payments'
  | 'settings'
  | 'i18n'
  | 'dialogs'
  | 'chat'
  | 'images'
>;

export interface VitteFlavor {
  deps: BotDeps;
  /** The registered user behind the update (set by the user middleware for updates from a person). */
  user?: User;
  locale: Locale;
  /** Messages in `locale` (see the locale middleware). */
  t: Translate;
  /** The sender's rate-limit decision, counted with the update's claim (updates that count). */
  rate?: RateLimitDecision | undefined;
  /** Name of the handler that took the update, for metrics and logs. */
  handler?: string;
}

export type BotContext = Context & VitteFlavor;
