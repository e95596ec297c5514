import type { User, UserUpdate } from '../../platform/db/schema.js';
import type { Transactor } from '../../platform/db/transactor.js';
import { NotFoundError } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import type { RowCache } from '../../platform/row-cache.js';
import type { Change } from '../change.js';
import type { SettingsService } from '../settings/settings.service.js';
import { FREE_PLAN } from '../subscriptions/subscriptions.service.js';
import type { UserListItem, UserSearch, UsersRepository } from './users.repository.js';

/** Activity is written at most this often per user (plus whenever the profile changed or they come back). */
const TOUCH_INTERVAL_MS = 5 * 60_000;

function profileChanged(user: User, p: TelegramProfile): boolean {
  return (
    user.username !== (p.username ?? null) ||
    user.first_name !== p.first_name ||
    user.last_name !== (p.last_name ?? null) ||
    user.language_code !== (p.language_code ?? null)
  );
}

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
/** How long the per-update read of a user may be served from the cache. */
export const USER_CACHE_TTL_MS = 5 * 60_000;

export class UsersService {
  constructor(
    private readonly tx: Transactor,
    private readonly repo: UsersRepository,
    private readonly settings: SettingsService,
    /** Filled by reads on the update path; the repository drops rows as their writes commit. */
    private readonly cache: RowCache<User>,
    private readonly logger: Logger,
  ) {}

  find(id: number): Promise<User | undefined> {
    return this.repo.findById(id);
  }

  /** Cache-aside read for the per-update path (5 min; every committed write drops the row everywhere). */
  findCached(id: number): Promise<User | undefined> {
    return this.cache.get(id, () => this.repo.findById(id));
  }

  async get(id: number): Promise<User> {
    const user = await this.repo.findById(id);
    if (!user) throw new NotFoundError(`user ${id} not found`);
    return user;
  }

  /**
   * Create the user and a free subscription in one statement. Idempotent: concurrent calls for one
   * Telegram id leave one user and one subscription; `created` is true for exactly one of them.
   * `utmSource` is kept only from the first registration.
   */
  async register(
    profile: TelegramProfile,
    opts: { utmSource?: string | undefined } = {},
  ): Promise<RegisterResult> {
    const free = (await this.settings.get('plans'))[FREE_PLAN]!;
    const inserted = await this.repo.insertWithSubscription(
      {
        id: profile.id,
        username: profile.username ?? null,
        first_name: profile.first_name,
        last_name: profile.last_name ?? null,
        language_code: profile.language_code ?? null,
        utm_source: normalizeUtm(opts.utmSource),
      },
      FREE_PLAN,
      free,
    );
    if (!inserted) {
      const existing = await this.repo.findById(profile.id);
      if (!existing) throw new Error(`user ${profile.id} vanished during registration`);
      return { user: existing, created: false };
    }
    this.logger.info({ userId: profile.id, utm: inserted.utm_source }, 'user registered');
    return { user: inserted, created: true };
  }

  /**
   * The person behind an update: registered (with a free plan) on first contact, else loaded from
   * the cache. Activity is written at most every few minutes, and at once when the profile changed
   * or they come back after blocking the bot.
   */
  async seen(profile: TelegramProfile, opts: { utmSource?: string | undefined } = {}): Promise<User> {
    const user = await this.findCached(profile.id);
    if (!user) return (await this.register(profile, opts)).user;
    const stale = Date.now() - user.last_active_at.getTime() > TOUCH_INTERVAL_MS;
    if (!user.bot_blocked_at && !stale && !profileChanged(user, profile)) return user;
    await this.touch(profile);
    return {
      ...user,
      username: profile.username ?? null,
      first_name: profile.first_name,
      last_name: profile.last_name ?? null,
      language_code: profile.language_code ?? null,
      bot_blocked_at: null,
      last_active_at: new Date(),
    };
  }

  /** Record activity and refresh the profile; clears `bot_blocked_at`. */
  async touch(profile: TelegramProfile): Promise<void> {
    await this.repo.touch(profile.id, {
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

  /** Opt in or out of retention reminders and broadcasts (/settings). */
  async setNotifications(id: number, enabled: boolean): Promise<User> {
    const user = await this.repo.update(id, { notifications_enabled: enabled });
    if (!user) throw new NotFoundError(`user ${id} not found`);
    this.logger.info({ userId: id, enabled }, 'notifications setting changed');
    return user;
  }

  /** The user blocked the bot (Telegram answered 403). Returns true the first time. */
  async markBotBlocked(id: number): Promise<boolean> {
    const changed = await this.repo.markBotBlocked(id);
    if (changed) this.logger.info({ userId: id }, 'user blocked the bot');
    return changed;
  }

  /** Admin list: filters and keyset pagination (see UsersRepository.search). */
  search(filter: UserSearch): Promise<UserListItem[]> {
    return this.repo.search({ ...filter, limit: Math.min(Math.max(filter.limit, 1), 1_000) });
  }

  /** Ban: the bot refuses the user from the next update on (the cached row is dropped). */
  ban(id: number, reason: string | null): Promise<Change<User>> {
    return this.change(id, { banned_at: new Date(), ban_reason: reason?.trim().slice(0, 500) || null });
  }

  unban(id: number): Promise<Change<User>> {
    return this.change(id, { banned_at: null, ban_reason: null });
  }

  setAdmin(id: number, isAdmin: boolean): Promise<Change<User>> {
    return this.change(id, { is_admin: isAdmin });
  }

  /** Update one user under a row lock, in the caller's transaction when there is one. */
  private change(id: number, patch: UserUpdate): Promise<Change<User>> {
    return this.tx.run(async () => {
      const before = await this.repo.findForUpdate(id);
      if (!before) throw new NotFoundError(`user ${id} not found`);
      const after = await this.repo.update(id, patch);
      if (!after) throw new NotFoundError(`user ${id} not found`);
      return { before, after };
    });
  }
}

function normalizeUtm(source: string | undefined): string | null {
  if (!source) return null;
  const clean = source.replace(/[^A-Za-z0-9_-]/g, '').slice(0, UTM_MAX);
  return clean || null;
}
