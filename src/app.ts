import type { Config } from './config.js';
import { SettingsRepository } from './domain/settings/settings.repository.js';
import { SettingsService } from './domain/settings/settings.service.js';
import { SubscriptionsRepository } from './domain/subscriptions/subscriptions.repository.js';
import { SubscriptionsService } from './domain/subscriptions/subscriptions.service.js';
import { UsersRepository } from './domain/users/users.repository.js';
import { UsersService } from './domain/users/users.service.js';
import {
  type Cache,
  createMemoryBus,
  createMemoryCache,
  createRedisBus,
  createRedisCache,
  type InvalidationBus,
} from './platform/cache.js';
import { createDatabase, type Database, type Db } from './platform/db/database.js';
import { Lifecycle } from './platform/lifecycle.js';
import { createLogger, type Logger } from './platform/logger.js';
import { Metrics } from './platform/metrics.js';
import { closeRedis, createRedis, type Redis } from './platform/redis.js';

/** Every long-lived dependency, built once by createApp. Entry layers receive this. */
export interface App {
  readonly config: Readonly<Config>;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly lifecycle: Lifecycle;
  readonly database: Database;
  readonly db: Db;
  /** Undefined in embedded mode (no REDIS_URL). */
  readonly redis: Redis | undefined;
  readonly cache: Cache;
  readonly bus: InvalidationBus;
  readonly settings: SettingsService;
  readonly users: UsersService;
  readonly subscriptions: SubscriptionsService;
  close(): Promise<void>;
}

export interface AppOptions {
  logger?: Logger;
  /** Name shown in Postgres' pg_stat_activity and Redis' CLIENT LIST. */
  role?: string;
}

export function createApp(config: Readonly<Config>, opts: AppOptions = {}): App {
  const logger =
    opts.logger ??
    createLogger({
      level: config.LOG_LEVEL,
      pretty: config.LOG_PRETTY ?? (config.NODE_ENV === 'development' && process.stdout.isTTY === true),
      secrets: [config.BOT_TOKEN, config.WEBHOOK_SECRET, config.LLM_API_KEY, config.ADMIN_BOOTSTRAP_PASSWORD],
    });
  const role = opts.role ?? 'app';
  const metrics = new Metrics({ defaultMetrics: true });
  const lifecycle = new Lifecycle(logger, config.SHUTDOWN_TIMEOUT_MS);

  const database = createDatabase(
    {
      url: config.DATABASE_URL,
      dataDir: config.DATA_DIR,
      poolMax: config.DB_POOL_MAX,
      statementTimeoutMs: config.DB_STATEMENT_TIMEOUT_MS,
      connectTimeoutMs: config.DB_CONNECT_TIMEOUT_MS,
      applicationName: `vitte-${role}`,
    },
    logger,
  );
  lifecycle.onClose('database', () => database.close());

  let redis: Redis | undefined;
  let cache: Cache;
  let bus: InvalidationBus;
  if (config.REDIS_URL) {
    redis = createRedis(config.REDIS_URL, logger, { connectionName: `vitte-${role}` });
    const subscriber = createRedis(config.REDIS_URL, logger, { connectionName: `vitte-${role}-sub` });
    const r = redis;
    lifecycle.onClose('redis', async () => {
      await Promise.all([closeRedis(r), closeRedis(subscriber)]);
    });
    cache = createRedisCache(redis, config.REDIS_PREFIX);
    bus = createRedisBus(redis, subscriber, config.REDIS_PREFIX, logger);
  } else {
    cache = createMemoryCache();
    bus = createMemoryBus();
  }
  lifecycle.onClose('invalidation-bus', () => bus.close());

  const db = database.db;
  const settings = new SettingsService(
    new SettingsRepository(db),
    bus,
    logger.child({ component: 'settings' }),
  );
  const subscriptions = new SubscriptionsService(
    new SubscriptionsRepository(db),
    settings,
    logger.child({ component: 'subscriptions' }),
  );
  const users = new UsersService(db, new UsersRepository(db), settings, logger.child({ component: 'users' }));

  return {
    config,
    logger,
    metrics,
    lifecycle,
    database,
    db,
    redis,
    cache,
    bus,
    settings,
    users,
    subscriptions,
    close: () => lifecycle.close(),
  };
}
