import type { FastifyInstance } from 'fastify';
import type { Bot } from 'grammy';
import { bootstrapAdmin, registerAdmin } from '../admin/index.js';
import { registerApi } from '../api/index.js';
import { healthRoutes } from '../api/routes/health.routes.js';
import { metricsRoutes } from '../api/routes/metrics.routes.js';
import { webhookRoutes } from '../api/routes/webhook.routes.js';
import { type App, createApp, packageVersion } from '../app.js';
import { type BotContext, createBot, publishCommands } from '../bot/index.js';
import { startPolling } from '../bot/polling.js';
import { type Config, redactConfig } from '../config.js';
import { createBotApiEmulator } from '../dev/bot-api-emulator/index.js';
import { registerPlayground } from '../dev/playground/index.js';
import { migrateUp, pendingMigrations } from '../platform/db/migrator.js';
import { createErrorReporter } from '../platform/error-reporting.js';
import { createHttpServer } from '../platform/http.js';
import { startWorker } from '../worker/index.js';
import type { Command, Running } from './commands.js';
import { withDevComfyUi } from './dev-comfyui.js';

export type Role = 'all' | 'api' | 'bot' | 'worker' | 'admin';

/**
 * Embedded `all` applies its own migrations so `npm start` just works; every other role expects
 * `vitte migrate up` to have run and refuses to start on an outdated schema.
 */
async function ensureSchema(app: App, role: Role): Promise<void> {
  if (app.database.kind === 'pglite' && role === 'all') {
    await migrateUp(app.db, app.logger);
    return;
  }
  const pending = await pendingMigrations(app.db);
  if (pending.length) {
    throw new Error(
      `database schema is not current (pending: ${pending.join(', ')}); run "vitte migrate up" first`,
    );
  }
}

async function listen(app: App, server: FastifyInstance, role: Role, port: number): Promise<string> {
  // Stop accepting connections first; in-flight requests finish before storage closes.
  app.lifecycle.onClose(`http-${role}`, () => server.close());
  await server.listen({ host: app.config.HOST, port });
  const address = server.server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  const url = `http://${app.config.HOST}:${bound}`;
  app.logger.info({ role, url }, 'listening');
  return url;
}

/**
 * With no BOT_TOKEN, embedded `all` starts the local Bot API emulator and talks to it, so a newcomer
 * can use the bot at /playground at once. The returned config points the bot at it.
 */
async function withEmulator(config: Readonly<Config>, role: Role) {
  if (config.BOT_TOKEN || role !== 'all') return { config, emulator: undefined };
  // The playground lets anyone speak as any Telegram user: a development tool, never a production one.
  if (config.NODE_ENV === 'production') throw new Error('NODE_ENV=production: set BOT_TOKEN');
  const emulator = await createBotApiEmulator({ host: '127.0.0.1', port: config.EMULATOR_PORT });
  return {
    config: Object.freeze({ ...config, BOT_TOKEN: emulator.token, TELEGRAM_API_ROOT: emulator.url }),
    emulator,
  };
}

function needsToken(config: Readonly<Config>, role: Role): string {
  if (!config.BOT_TOKEN) throw new Error(`the ${role} role needs BOT_TOKEN`);
  return config.BOT_TOKEN;
}

export interface Started {
  app: App;
  /** Base URL of the role's HTTP server. */
  url: string;
  /** Set when embedded `all` started the local Bot API emulator. */
  emulatorUrl: string | undefined;
}

export async function startRole(role: Role, baseConfig: Readonly<Config>): Promise<Started> {
  if (role !== 'all' && baseConfig.embedded) {
    throw new Error(`the ${role} role needs DATABASE_URL (embedded PGlite serves the "all" role only)`);
  }
  if (role === 'bot' && baseConfig.BOT_MODE === 'webhook') {
    throw new Error(
      'BOT_MODE=webhook: updates arrive at the api role; run "vitte bot" only for long polling',
    );
  }
  const { config: withBot, emulator } = await withEmulator(baseConfig, role);
  const { config, close: closeComfy, url: fakeComfyUrl } = await withDevComfyUi(withBot, role);
  const reporter = await createErrorReporter({
    dsn: config.SENTRY_DSN,
    environment: config.NODE_ENV,
    release: packageVersion(),
    role,
  });
  const app = createApp(config, { role, reportError: reporter.report });
  app.logger.info({ role, config: redactConfig(config) }, 'configuration');
  app.lifecycle.onClose('error-reporting', () => reporter.close());
  if (emulator) app.lifecycle.onClose('bot-api-emulator', () => emulator.close());
  if (closeComfy) {
    app.logger.info(
      { url: fakeComfyUrl },
      'fake ComfyUI started for the playground (set COMFYUI_URLS for real ones)',
    );
    app.lifecycle.onClose('fake-comfyui', closeComfy);
  }
  try {
    await ensureSchema(app, role);
    const server = createHttpServer({
      logger: app.logger,
      metrics: app.metrics,
      trustProxy: config.TRUST_PROXY,
    });
    if (role === 'admin') {
      // The admin process keeps its own health and metrics for probes and Prometheus.
      await server.register(healthRoutes(app));
      await server.register(metricsRoutes(app.metrics));
    } else {
      await registerApi(server, app);
    }
    if (role === 'admin' || role === 'all') {
      await registerAdmin(server, app);
      await bootstrapAdmin(app);
    }

    let bot: Bot<BotContext> | undefined;
    const wantsBot = role === 'bot' || role === 'all' || (role === 'api' && config.BOT_MODE === 'webhook');
    if (wantsBot) {
      bot = createBot(app, {
        token: needsToken(config, role),
        apiRoot: config.TELEGRAM_API_ROOT,
        redis: app.redis,
      });
    }
    if (bot && config.BOT_MODE === 'webhook' && role !== 'bot') {
      await bot.init();
      await publishCommands(bot.api, app);
      await server.register(
        webhookRoutes({
          bot,
          path: config.WEBHOOK_PATH,
          secret: config.WEBHOOK_SECRET!,
          logger: app.logger,
          metrics: app.metrics,
        }),
      );
    }
    if (emulator) await server.register(registerPlayground, { emulatorUrl: emulator.url });

    const url = await listen(app, server, role, role === 'admin' ? config.ADMIN_PORT : config.API_PORT);
    if (role === 'worker' || role === 'all') {
      needsToken(config, role);
      await startWorker(app);
    }
    if (bot && config.BOT_MODE === 'polling')
      app.lifecycle.onClose('bot-polling', await startPolling(bot, app));
    app.logger.info(
      {
        role,
        embedded: config.embedded,
        redis: Boolean(app.redis),
        botMode: bot ? config.BOT_MODE : 'off',
        emulator: emulator?.url,
      },
      'started',
    );
    return { app, url, emulatorUrl: emulator?.url };
  } catch (err) {
    await app.close();
    throw err;
  }
}

export function roleCommand(role: Role, describe: string): Command {
  return {
    usage: '',
    describe,
    async run(_args, config): Promise<Running> {
      const { app } = await startRole(role, config);
      return { logger: app.logger, close: () => app.close() };
    },
  };
}
