import type { Cache } from '../../platform/cache.js';
import type { DayCount, StatsRepository, UserUsage } from './stats.repository.js';

const DAY_MS = 86_400_000;

/** Everything the dashboard shows; JSON-safe (dates as ISO strings) so it can be cached anywhere. */
export interface DashboardStats {
  generatedAt: string;
  users: {
    total: number;
    newToday: number;
    new7d: number;
    new30d: number;
    blockedBot: number;
    banned: number;
  };
  /** Distinct users active in the last 24 h / 7 d / 30 d. */
  active: { dau: number; wau: number; mau: number };
  messagesToday: number;
  plans: { plan: string; count: number }[];
  /** 30 UTC days, oldest first, today included. */
  charts: { days: string[]; newUsers: number[]; messages: number[] };
}

export interface StatsOptions {
  /** How long the dashboard numbers are reused. */
  ttlMs?: number;
  /** Past days of the message chart do not change; they are recomputed this often. */
  historyTtlMs?: number;
}

function utcDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

function startOfUtcDay(d: Date): Date {
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
}

function series(days: string[], counts: DayCount[]): number[] {
  const byDay = new Map(counts.map((c) => [c.day, c.count]));
  return days.map((d) => byDay.get(d) ?? 0);
}

/** Dashboard statistics, correct and fast at a million users: indexed range counts, cached briefly. */
export class StatsService {
  private readonly ttlMs: number;
  private readonly historyTtlMs: number;
  private readonly inFlight = new Map<string, Promise<DashboardStats>>();

  constructor(
    private readonly repo: StatsRepository,
    private readonly cache: Cache,
    opts: StatsOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? 30_000;
    this.historyTtlMs = opts.historyTtlMs ?? 15 * 60_000;
  }

  /** Cached for ~30 s; `fresh` recomputes (and refreshes the cache). */
  async dashboard(opts: { fresh?: boolean } = {}): Promise<DashboardStats> {
    if (!opts.fresh) {
      const hit = await this.cache.get<DashboardStats>('admin:stats:dashboard');
      if (hit) return hit;
    }
    // Admins opening the dashboard together share one computation instead of each running it.
    const key = opts.fresh ? 'fresh' : 'cached';
    let running = this.inFlight.get(key);
    if (!running) {
      running = this.compute(new Date(), { fresh: opts.fresh === true })
        .then(async (stats) => {
          await this.cache.set('admin:stats:dashboard', stats, this.ttlMs);
          return stats;
        })
        .finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, running);
    }
    return running;
  }

  /** The numbers as of `now`; only the past days of the message chart may come from the cache unless `fresh`. */
  async compute(now: Date, opts: { fresh?: boolean } = {}): Promise<DashboardStats> {
    const today = startOfUtcDay(now);
    const first = new Date(today.getTime() - 29 * DAY_MS);
    const days = Array.from({ length: 30 }, (_, i) => utcDay(new Date(first.getTime() + i * DAY_MS)));
    const ago = (d: number) => new Date(now.getTime() - d * DAY_MS);
    const [totals, newToday, new7d, new30d, dau, wau, mau, messagesToday, plans, newPerDay, history] =
      await Promise.all([
        this.repo.userTotals(),
        this.repo.usersCreatedSince(today),
        this.repo.usersCreatedSince(ago(7)),
        this.repo.usersCreatedSince(ago(30)),
        this.repo.usersActiveSince(ago(1)),
        this.repo.usersActiveSince(ago(7)),
        this.repo.usersActiveSince(ago(30)),
        this.repo.userMessagesSince(today),
        this.repo.planDistribution(),
        this.repo.newUsersPerDay(first),
        this.messageHistory(first, today, opts.fresh === true),
      ]);
    const messages = series(days, history);
    messages[messages.length - 1] = messagesToday;
    return {
      generatedAt: now.toISOString(),
      users: {
        total: totals.total,
        newToday,
        new7d,
        new30d,
        blockedBot: totals.blocked,
        banned: totals.banned,
      },
      active: { dau, wau, mau },
      messagesToday,
      plans,
      charts: { days, newUsers: series(days, newPerDay), messages },
    };
  }

  /** Messages per day before today: the heaviest query, cached longer because past days do not change. */
  private async messageHistory(first: Date, today: Date, fresh: boolean): Promise<DayCount[]> {
    const key = `admin:stats:messages:${utcDay(first)}`;
    const hit = fresh ? undefined : await this.cache.get<DayCount[]>(key);
    if (hit) return hit;
    const counts = await this.repo.userMessagesPerDay(first, today);
    await this.cache.set(key, counts, this.historyTtlMs);
    return counts;
  }

  userUsage(userId: number): Promise<UserUsage> {
    return this.repo.userUsage(userId);
  }
}
