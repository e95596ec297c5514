import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Api } from 'grammy';
import { type Config, configSecrets } from './config.js';
import { AdminRepository } from './domain/admin/admin.repository.js';
import { AuditRepository } from './domain/admin/audit.repository.js';
import { type AdminServices, createAdminServices } from './domain/admin/index.js';
import { BroadcastsRepository } from './domain/broadcasts/broadcasts.repository.js';
import { BroadcastsService } from './domain/broadcasts/broadcasts.service.js';
import { createChatMetrics } from './domain/chat/chat.metrics.js';
import { ChatRepository } from './domain/chat/chat.repository.js';
import { ChatService } from './domain/chat/chat.service.js';
import { Generations } from './domain/chat/generations.js';
import { SummaryService } from './domain/chat/summary.service.js';
import { DialogsRepository } from './domain/dialogs/dialogs.repository.js';
import { DialogsService } from './domain/dialogs/dialogs.service.js';
import { ImageAttempt, type ImageGenerator } from './domain/images/image-attempt.js';
import { ImageJobs } from './domain/images/image-jobs.js';
import { ImageJobsRepository } from './domain/images/image-jobs.repository.js';
import { CreditsImageQuota } from './domain/images/image-quota.js';
import type { RunImageAttempt } from './domain/images/images.jobs.js';
import { createImagesMetrics } from './domain/images/images.metrics.js';
import { ImagesService } from './domain/images/images.service.js';
import { type Jobs, jobs } from './domain/jobs.js';
import { PaymentsRepository } from './domain/payments/payments.repository.js';
import { PaymentsService } from './domain/payments/payments.service.js';
import { RetentionRepository } from './domain/retention/retention.repository.js';
import { RetentionService } from './domain/retention/retention.service.js';
import { SettingsRepository } from './domain/settings/settings.repository.js';
import { SettingsService } from './domain/settings/settings.service.js';
import { StatsRepository } from './domain/stats/stats.repository.js';
import { StatsService } from './domain/stats/stats.service.js';
import { ImageCreditsRepository } from './domain/subscriptions/image-credits.repository.js';
import { ImageCreditsService } from './domain/subscriptions/image-credits.service.js';
import { SubscriptionsRepository } from './domain/subscriptions/subscriptions.repository.js';
import { SubscriptionsService } from './domain/subscriptions/subscriptions.service.js';
import { UsersRepository } from './domain/users/users.repository.js';
import { USER_CACHE_TTL_MS, UsersService } from './domain/users/users.service.js';
import type { WorkflowDefinition } from './integrations/comfyui/index.js';
import { LlmClient } from './integrations/llm/llm-client.js';
import { imageKeyboards } from './integrations/telegram/image-keyboards.js';
import { telegramImageOutput } from './integrations/telegram/image-output.js';
import { createNotifier } from './integrations/telegram/notifier.js';
import { telegramReplyOutput } from './integrations/telegram/reply-stream.js';
import { telegramStarsGateway } from './integrations/telegram/stars-gateway.js';
import { createTelegramApi } from './integrations/telegram/telegram-api.js';
import { telegramSender } from './integrations/telegram/telegram-sender.js';
import {
  type Cache,
  createMemoryBus,
  createMemoryCache,
  createRedisBus,
  createRedisCache,
  type InvalidationBus,
} from './platform/cache.js';
import { createDatabase, type Database, type Db } from './platform/db/database.js';
import type { StarSubscription, Subscription, User } from './platform/db/schema.js';
import { createTransactor, type Transactor } from './platform/db/transactor.js';
import type { ReportError } from './platform/error-reporting.js';
import { createTranslator, resolveLocale, type Translator } from './platform/i18n/i18n.js';
import { Lifecycle } from './platform/lifecycle.js';
import { createLogger, type Logger } from './platform/logger.js';
import { Metrics } from './platform/metrics.js';
import {
  createBullmqQueue,
  createInlineQueue,
  type JobQueue,
  type QueueOptions,
} from './platform/queue/index.js';
import { closeRedis, createFailFastRedis, createRedis, type Redis } from './platform/redis.js';
import { RedisConcurrencyLimit, Semaphore } from './platform/resilience.js';
import { RowCache } from './platform/row-cache.js';
import { createObjectStore, type ObjectStore } from './platform/storage/index.js';

/** Every long-lived dependency, built once by createApp. Entry layers receive this. */
export interface App {
  readonly config: Readonly<Config>;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly lifecycle: Lifecycle;
  readonly database: Database;
  /** The database itself: for platform code (health, migrations) and tests; the domain uses `tx`. */
  readonly db: Db;
  /** The one way to run a transaction; repositories read the ambient one through it. */
  readonly tx: Transactor;
  /** Undefined in embedded mode (no REDIS_URL). */
  readonly redis: Redis | undefined;
  readonly cache: Cache;
  readonly bus: InvalidationBus;
  /** Rows read on every update, cached per process; their repositories drop them as writes commit. */
  readonly rows: {
    users: RowCache<User>;
    subscriptions: RowCache<Subscription>;
    imagePacks: RowCache<{ left: number }>;
    starSubscriptions: RowCache<{ star: StarSubscription | null }>;
  };
  readonly settings: SettingsService;
  readonly users: UsersService;
  readonly subscriptions: SubscriptionsService;
  /** Image units: the plan's images, then purchased packs. */
  readonly imageCredits: ImageCreditsService;
  /** Telegram Stars: catalogue, orders, pre-checkout, crediting, refunds, Star subscriptions. */
  readonly payments: PaymentsService;
  readonly dialogs: DialogsService;
  readonly chat: ChatService;
  /** Rolling dialog summaries (the chat.summarize job). */
  readonly summaries: SummaryService;
  readonly llm: LlmClient;
  readonly queue: JobQueue<Jobs>;
  /** Translations for what the app sends outside an update (replies, notices); the bot adds its middleware. */
  readonly i18n: Translator;
  /** Bot API client for sending, with bounded retries; undefined when no BOT_TOKEN is configured. */
  readonly telegram: Api | undefined;
  /** The same without retries, for callers that handle 429 themselves (drafts, broadcasts). */
  readonly telegramDirect: Api | undefined;
  /** Admin panel: accounts, sign-in and sessions, audit log, admin actions on users. */
  readonly admin: AdminServices;
  /** Dashboard statistics. */
  readonly stats: StatsService;
  /** Broadcasts: create, schedule, start, pause, resume, cancel, progress; their delivery jobs. */
  readonly broadcasts: BroadcastsService;
  /** Inactivity reminders (retention.stages) and their jobs. */
  readonly retention: RetentionService;
  /** Pictures: requests, cancels, the admin's gallery, the sweeper. */
  readonly images: ImagesService;
  /** Where pictures are stored (local files under DATA_DIR, or S3/MinIO). */
  readonly objects: ObjectStore;
  /** The admin panel serves stored objects under `prefix`, to links signed with `secret`. */
  readonly objectLinks: { readonly prefix: string; readonly secret: string };
  /** One attempt at a picture, on the worker's ComfyUI pool and workflows. */
  imageAttempts(
    generator: ImageGenerator,
    workflows: ReadonlyMap<string, WorkflowDefinition>,
  ): RunImageAttempt;
  close(): Promise<void>;
}

/** Rows each cache keeps per process (users, subscriptions): the active users of the last hour or so. */
const CACHED_ROWS = 50_000;

/** An App whose Bot API clients exist (BOT_TOKEN is set): what the worker role runs on. */
export interface TelegramApp extends App {
  readonly telegram: Api;
  readonly telegramDirect: Api;
}

/** The one check, where a role starts, that it can talk to Telegram. */
export function requireTelegram(app: App, role: string): TelegramApp {
  if (!app.telegram || !app.telegramDirect) throw new Error(`the ${role} role needs BOT_TOKEN`);
  return app as TelegramApp;
}

export interface AppOptions {
  logger?: Logger;
  /** Name shown in Postgres' pg_stat_activity and Redis' CLIENT LIST. */
  role?: string;
  /** Where logged errors are also reported (Sentry, see createErrorReporter). */
  reportError?: ReportError;
}

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version?: string;
  };
  return pkg.version ?? 'unknown';
}

export function createApp(config: Readonly<Config>, opts: AppOptions = {}): App {
  const logger =
    opts.logger ??
    createLogger({
      level: config.LOG_LEVEL,
      pretty: config.LOG_PRETTY ?? (config.NODE_ENV === 'development' && process.stdout.isTTY === true),
      secrets: configSecrets(config),
      report: opts.reportError,
    });
  const role = opts.role ?? 'app';
  const metrics = new Metrics({ defaultMetrics: true });
  // Which release each replica runs, for upgrades and rollbacks (Grafana: count by version).
  metrics
    .gauge({
      name: 'vitte_build_info',
      help: 'Vitte version and role of this process',
      labelNames: ['version', 'role'],
    })
    .set({ version: packageVersion(), role }, 1);
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
    // Invalidations are published after commit, inside the writing flow: they never wait for a
    // Redis that is down (the bus makes a lost one good once it is back).
    const publisher = createFailFastRedis(redis, logger, config.REDIS_UPDATE_TIMEOUT_MS, 'pub');
    const r = redis;
    lifecycle.onClose('redis', async () => {
      await Promise.all([closeRedis(r), closeRedis(subscriber), closeRedis(publisher)]);
    });
    cache = createRedisCache(redis, config.REDIS_PREFIX);
    bus = createRedisBus(publisher, subscriber, config.REDIS_PREFIX, logger);
  } else {
    cache = createMemoryCache();
    bus = createMemoryBus();
  }
  lifecycle.onClose('invalidation-bus', () => bus.close());
  // Closed after the queue has drained (closers run in reverse): a job finishing may still store.
  const objectLinks = {
    prefix: '/admin/objects',
    // Without a configured key, links work only on the process that made them (the admin panel's).
    secret: config.OBJECT_LINK_SECRET ?? randomBytes(32).toString('base64url'),
  };
  const objects = createObjectStore(
    config.S3_BUCKET
      ? {
          kind: 's3',
          bucket: config.S3_BUCKET,
          endpoint: config.S3_ENDPOINT,
          region: config.S3_REGION,
          accessKeyId: config.S3_ACCESS_KEY_ID ?? '',
          secretAccessKey: config.S3_SECRET_ACCESS_KEY ?? '',
          forcePathStyle: config.S3_FORCE_PATH_STYLE,
        }
      : {
          kind: 'local',
          dir: join(config.DATA_DIR, 'objects'),
          signingSecret: objectLinks.secret,
          urlPrefix: objectLinks.prefix,
        },
    { logger, metrics },
  );
  lifecycle.onClose('object-store', () => objects.close());

  const db = database.db;
  const tx = createTransactor(db, logger.child({ component: 'db' }));
  // The rows every update reads, cached in this process; the bus keeps every process's copy coherent.
  const rows = {
    users: new RowCache<User>({
      name: 'users',
      bus,
      metrics,
      max: CACHED_ROWS,
      ttlMs: () => USER_CACHE_TTL_MS,
      jitter: 0.1,
    }),
    subscriptions: new RowCache<Subscription>({
      name: 'subscriptions',
      bus,
      metrics,
      max: CACHED_ROWS,
      // Each read passes its own lifetime (see SubscriptionsService.quota).
      ttlMs: () => 0,
      jitter: 0.1,
    }),
    // What /status shows besides the plan: purchased images left, the running Star subscription.
    imagePacks: new RowCache<{ left: number }>({
      name: 'image-packs',
      bus,
      metrics,
      max: CACHED_ROWS,
      ttlMs: () => 3_600_000,
      jitter: 0.1,
    }),
    starSubscriptions: new RowCache<{ star: StarSubscription | null }>({
      name: 'star-subscriptions',
      bus,
      metrics,
      max: CACHED_ROWS,
      // Each read passes its own lifetime (see PaymentsService.starSubscription).
      ttlMs: () => 0,
      jitter: 0.1,
    }),
  };
  // Every repository, once: each reads the calling flow's transaction through `tx`.
  const repos = {
    settings: new SettingsRepository(tx),
    subscriptions: new SubscriptionsRepository(tx, (ids) => rows.subscriptions.invalidate(ids)),
    users: new UsersRepository(tx, (ids) => rows.users.invalidate(ids)),
    dialogs: new DialogsRepository(tx),
    chat: new ChatRepository(tx),
    broadcasts: new BroadcastsRepository(tx),
    retention: new RetentionRepository(tx),
    stats: new StatsRepository(tx),
    admin: new AdminRepository(tx),
    audit: new AuditRepository(tx),
    payments: new PaymentsRepository(tx, (ids) => rows.starSubscriptions.invalidate(ids)),
    imageCredits: new ImageCreditsRepository(tx, (ids) => rows.imagePacks.invalidate(ids)),
    imageJobs: new ImageJobsRepository(tx),
  };
  const settings = new SettingsService(tx, repos.settings, bus, logger.child({ component: 'settings' }));
  const subscriptions = new SubscriptionsService(
    repos.subscriptions,
    settings,
    rows.subscriptions,
    logger.child({ component: 'subscriptions' }),
  );
  const users = new UsersService(tx, repos.users, settings, rows.users, logger.child({ component: 'users' }));
  const i18n = createTranslator();
  const telegramApi = (maxRetries: number) =>
    config.BOT_TOKEN
      ? createTelegramApi({
          token: config.BOT_TOKEN,
          apiRoot: config.TELEGRAM_API_ROOT,
          maxRetries,
          logger,
          metrics,
          onBlocked: (chatId) => users.markBotBlocked(chatId),
        })
      : undefined;
  const telegram = telegramApi(config.TELEGRAM_MAX_RETRIES);
  const telegramDirect = telegramApi(0);
  const imageCredits = new ImageCreditsService(
    tx,
    repos.imageCredits,
    subscriptions,
    rows.imagePacks,
    logger.child({ component: 'image-credits' }),
  );
  const keyboards = imageKeyboards(i18n);
  const imagesEnabled = config.COMFYUI_URLS.length > 0;

  const queues: Record<string, QueueOptions> = Object.fromEntries(
    Object.entries(config.WORKER_QUEUE_CONCURRENCY).map(([name, concurrency]) => [name, { concurrency }]),
  );
  // One global rate over every worker process: Telegram allows ~30 messages/s per bot.
  // A dead worker's deliveries come back within ~10 s instead of BullMQ's default 30-60 s.
  queues.delivery = {
    ...queues.delivery,
    limiter: { max: config.BROADCAST_RATE_PER_SEC, durationMs: 1_000 },
    lockMs: 10_000,
  };
  // So do the replies a dead worker was writing (the dialog's reply lease, not the queue lock,
  // keeps one generation per dialog, so a lock lost to a long stall cannot answer twice).
  queues.chat = { ...queues.chat, lockMs: 10_000 };
  // A dead worker's pictures come back within ~15 s; the job's own lease (ImageAttempt) then decides.
  queues.images = { ...queues.images, lockMs: 15_000 };
  const queueOptions = {
    jobs,
    logger: logger.child({ component: 'queue' }),
    metrics,
    concurrency: config.WORKER_CONCURRENCY,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    queues,
  };
  const queue: JobQueue<Jobs> = config.REDIS_URL
    ? createBullmqQueue({
        ...queueOptions,
        connection: config.REDIS_URL,
        prefix: `${config.REDIS_PREFIX}:bull`,
      })
    : createInlineQueue(queueOptions);
  lifecycle.onClose('queue', () => queue.close());

  const llm = new LlmClient({
    baseUrl: config.LLM_BASE_URL,
    apiKey: config.LLM_API_KEY,
    model: config.LLM_MODEL,
    temperature: config.LLM_TEMPERATURE,
    maxTokens: config.LLM_MAX_TOKENS,
    timeoutMs: config.LLM_TIMEOUT_MS,
    maxRetries: config.LLM_MAX_RETRIES,
    concurrency: redis
      ? new RedisConcurrencyLimit(
          redis,
          `${config.REDIS_PREFIX}:llm-slots`,
          config.LLM_MAX_CONCURRENCY,
          logger,
        )
      : new Semaphore(config.LLM_MAX_CONCURRENCY),
    breakerThreshold: config.LLM_BREAKER_THRESHOLD,
    breakerCooldownMs: config.LLM_BREAKER_COOLDOWN_MS,
    logger,
    metrics,
  });
  const dialogs = new DialogsService(tx, repos.dialogs, logger.child({ component: 'dialogs' }));
  const chatLogger = logger.child({ component: 'chat' });
  const chatMetrics = createChatMetrics(metrics);
  const chatParts = {
    repo: repos.chat,
    dialogs,
    settings,
    llm,
    metrics: chatMetrics,
    contextTokens: config.LLM_CONTEXT_TOKENS,
    maxAnswerTokens: config.LLM_MAX_TOKENS,
  };
  const generations = new Generations(bus);
  // No dedupe key: a job deduplicated against one that is finishing would leave its message to
  // the sweeper. The dialog's reply lease keeps it to one generation; extra jobs end at once.
  const enqueueReply = async (dialogId: number) => {
    await queue.enqueue('chat.reply', { dialogId });
  };
  const chat = new ChatService({
    ...chatParts,
    tx,
    subscriptions,
    generations,
    logger: chatLogger,
    enqueueReply,
    runner: {
      ...chatParts,
      tx,
      enqueueReply,
      // The person being answered, from the row cache: a reply reads them every round.
      users: { find: (id) => users.findCached(id) },
      subscriptions,
      generations,
      logger: chatLogger,
      enqueueSummary: async (dialogId) => {
        await queue.enqueue('chat.summarize', { dialogId }, { key: `summary-${dialogId}` });
      },
      output:
        telegram && telegramDirect
          ? telegramReplyOutput({
              api: telegram,
              direct: telegramDirect,
              i18n,
              intervalMs: config.CHAT_STREAM_INTERVAL_MS,
              groupIntervalMs: config.CHAT_STREAM_GROUP_INTERVAL_MS,
              logger: logger.child({ component: 'reply' }),
              ...(imagesEnabled
                ? {
                    answerMarkup: async (answerId: number, locale: string) =>
                      llm.configured && (await settings.get('images.picture_button'))
                        ? keyboards.picture(answerId, locale)
                        : undefined,
                  }
                : {}),
            })
          : () => {
              throw new Error('replies need BOT_TOKEN');
            },
    },
  });
  const summaries = new SummaryService({ ...chatParts, logger: chatLogger });
  // Deliveries use the client without retries: a 429 must reach the job to pause the whole queue.
  const sender = telegramDirect ? telegramSender(telegramDirect) : undefined;
  const broadcasts = new BroadcastsService({
    tx,
    repo: repos.broadcasts,
    users,
    sender,
    queue,
    ratePerSec: config.BROADCAST_RATE_PER_SEC,
    logger: logger.child({ component: 'broadcasts' }),
    metrics,
  });
  const payments = new PaymentsService({
    tx,
    repo: repos.payments,
    users,
    subscriptions,
    imageCredits,
    settings,
    // Refunds go out without the client's retries: the job decides, after reconciling.
    gateway: telegramDirect
      ? telegramStarsGateway(telegramDirect, { timeoutMs: config.PAYMENTS_REFUND_TIMEOUT_MS })
      : undefined,
    notify: telegram ? createNotifier({ api: telegram, i18n, findUser: (id) => users.find(id) }) : undefined,
    queue,
    starCache: rows.starSubscriptions,
    logger: logger.child({ component: 'payments' }),
    metrics,
  });
  const retention = new RetentionService({
    repo: repos.retention,
    localeOf: (user) => resolveLocale(user.language, user.language_code),
    settings,
    users,
    sender,
    queue,
    logger: logger.child({ component: 'retention' }),
    metrics,
  });

  const imagesLogger = logger.child({ component: 'images' });
  const imagesMetrics = createImagesMetrics(metrics);
  const imageQuota = new CreditsImageQuota(imageCredits, subscriptions);
  const imageJobs = new ImageJobs({
    tx,
    repo: repos.imageJobs,
    quota: imageQuota,
    metrics: imagesMetrics,
    logger: imagesLogger,
    onFinished: (job) => images.wake(job.user_id),
  });
  const images: ImagesService = new ImagesService({
    tx,
    repo: repos.imageJobs,
    jobs: imageJobs,
    quota: imageQuota,
    settings,
    bus,
    metrics: imagesMetrics,
    logger: imagesLogger,
    enabled: imagesEnabled,
    llmConfigured: () => llm.configured,
    enqueue: async (jobId) => {
      await queue.enqueue('images.generate', { jobId }, { key: `image-${jobId}` });
    },
  });
  const imageOutput =
    telegram && telegramDirect
      ? telegramImageOutput({ api: telegram, direct: telegramDirect, i18n, keyboards, logger: imagesLogger })
      : () => {
          throw new Error('pictures need BOT_TOKEN');
        };
  const imageAttempts = (
    generator: ImageGenerator,
    workflows: ReadonlyMap<string, WorkflowDefinition>,
  ): RunImageAttempt => {
    const deps = {
      repo: repos.imageJobs,
      jobs: imageJobs,
      images,
      settings,
      generator,
      workflows,
      store: objects,
      llm,
      users,
      output: imageOutput,
      metrics: imagesMetrics,
      logger: imagesLogger,
    };
    return (jobId, opts) => new ImageAttempt(deps, jobId, opts).run();
  };

  return {
    config,
    logger,
    metrics,
    lifecycle,
    database,
    db,
    tx,
    redis,
    cache,
    bus,
    rows,
    settings,
    users,
    subscriptions,
    imageCredits,
    payments,
    dialogs,
    chat,
    summaries,
    llm,
    queue,
    i18n,
    telegram,
    telegramDirect,
    admin: createAdminServices({
      tx,
      repos,
      redis,
      redisPrefix: config.REDIS_PREFIX,
      users,
      subscriptions,
      dialogs,
      settings,
      broadcasts,
      payments,
      logger,
      metrics,
    }),
    stats: new StatsService(repos.stats, cache),
    broadcasts,
    retention,
    images,
    objects,
    objectLinks,
    imageAttempts,
    close: () => lifecycle.close(),
  };
}
