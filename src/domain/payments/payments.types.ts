import type { StarSubscription } from '../../platform/db/schema.js';
import type { Transactor } from '../../platform/db/transactor.js';
import type { Logger } from '../../platform/logger.js';
import type { JobQueue } from '../../platform/queue/index.js';
import type { RowCache } from '../../platform/row-cache.js';
import type { Jobs } from '../jobs.js';
import type { SettingsService } from '../settings/settings.service.js';
import type { ImageCreditsService } from '../subscriptions/image-credits.service.js';
import type { Notify } from '../subscriptions/notify.js';
import type { SubscriptionsService } from '../subscriptions/subscriptions.service.js';
import type { UsersService } from '../users/users.service.js';
import type { PaymentsMetrics } from './payments.metrics.js';
import type { PaymentsRepository } from './payments.repository.js';
import type { StarsGateway } from './stars-gateway.js';

/** The languages products are described in. */
export type Lang = 'en' | 'ru';

export const DAY_MS = 86_400_000;
/**
 * A Star subscription's plan lasts this long past the paid period: Telegram charges the renewal at
 * the period's end, and its message must not lose the race against the expiry job (which would
 * tell the user their plan ended, minutes before it is renewed).
 */
export const SUBSCRIPTION_GRACE_MS = 3_600_000;

export interface PaymentsDeps {
  tx: Transactor;
  repo: PaymentsRepository;
  /** Read straight from the database: the payment path never waits on the cache (Redis). */
  users: Pick<UsersService, 'find'>;
  subscriptions: SubscriptionsService;
  imageCredits: ImageCreditsService;
  settings: SettingsService;
  /** Undefined without BOT_TOKEN: payments are recorded, refunds wait for a worker that has one. */
  gateway: StarsGateway | undefined;
  /** Tells a user something in their language; undefined without BOT_TOKEN. */
  notify: Notify | undefined;
  queue: Pick<JobQueue<Jobs>, 'enqueue'>;
  /** The running Star subscription per user, as /status reads it (the repository drops changed ones). */
  starCache: RowCache<{ star: StarSubscription | null }>;
  logger: Logger;
  metrics: PaymentsMetrics;
}

/** A Telegram date for messages to users, the same in every language. */
export function noticeDate(d: Date | string): string {
  return `${new Date(d).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
