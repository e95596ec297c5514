import type { Db } from '../../platform/db/database.js';
import type { User } from '../../platform/db/schema.js';
import { NotFoundError } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import type { SettingsService } from '../settings/settings.service.js';
import { SubscriptionsRepository } from '../subscriptions/subscriptions.repository.js';
import { FREE_PLAN } from '../subscriptions/subscriptions.service.js';
import { UsersRepository } from './users.repository.js';

/** What Telegram tells us about a person. */
export interface TelegramProfile {
  id: number;
  username?: string | undefined;
  first_name: string;
  last_name?: string | undefined;
  language_code?: string | undefined;
}

export interface RegisterResult {
  user: User;
  created: boolean;
}

const UTM_MAX = 64;

export class UsersService {
  constructor(
    private readonly db: Db,
    private readonly repo: UsersRepository,
    private readonly settings: SettingsService,
    private readonly logger: Logger,
  ) {}

  find(id: number): Promise<User | undefined> {
    return this.repo.findById(id);
  }

  async get(id: number): Promise<User> {
    const user = await this.repo.findById(id);
    if (!user) throw new NotFoundError(`user ${id} not found`);
    return user;
  }

  /**
   * Create the user and a free subscription in one transaction. Idempotent: concurrent calls for one
   * Telegram id leave one user and one subscription; `created` is true for exactly one of them.
   * `utmSource` is kept only from the first registration.
   */
  async register(
    profile: TelegramProfile,
    opts: { utmSource?: string | undefined } = {},
  ): Promise<RegisterResult> {
    const free = (await this.settings.get('plans'))[FREE_PLAN]!;
    const result = await this.db.transaction().execute(async (trx) => {
      const users = new UsersRepository(trx);
      const inserted = await users.insertIfAbsent({
        id: profile.id,
        username: profile.username ?? null,
        first_name: profile.first_name,
        last_name: profile.last_name ?? null,
        language_code: profile.language_code ?? null,
        utm_source: normalizeUtm(opts.utmSource),
      });
      if (!inserted) {
        const existing = await users.findById(profile.id);
        if (!existing) throw new Error(`user ${profile.id} vanished during registration`);
        return { user: existing, created: false };
      }
      await new SubscriptionsRepository(trx).insertIfAbsent(profile.id, FREE_PLAN, free);
      return { user: inserted, created: true };
    });
    if (result.created)
      this.logger.info({ userId: profile.id, utm: result.user.utm_source }, 'user registered');
    return result;
  }

  /** Record activity and refresh the profile; clears `bot_blocked_at`. */
  touch(profile: TelegramProfile): Promise<void> {
    return this.repo.touch(profile.id, {
      username: profile.username ?? null,
      first_name: profile.first_name,
      last_name: profile.last_name ?? null,
      language_code: profile.language_code ?? null,
    });
  }

  async setLanguage(id: number, language: string): Promise<User> {
    const user = await this.repo.update(id, { language });
    if (!user) throw new NotFoundError(`user ${id} not found`);
    return user;
  }

  /** The user blocked the bot (Telegram answered 403). Returns true the first time. */
  async markBotBlocked(id: number): Promise<boolean> {
    const changed = await this.repo.markBotBlocked(id);
    if (changed) this.logger.info({ userId: id }, 'user blocked the bot');
    return changed;
  }
}

function normalizeUtm(source: string | undefined): string | null {
  if (!source) return null;
  const clean = source.replace(/[^A-Za-z0-9_-]/g, '').slice(0, UTM_MAX);
  return clean || null;
}
