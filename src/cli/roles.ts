import type { FastifyInstance } from 'fastify';
import type { Bot } from 'grammy';
import { bootstrapAdmin, registerAdmin } from '../admin/index.js';
import { registerApi } from '../api/index.js';
import { healthRoutes } from '../api/routes/health.routes.js';
import { metricsRoutes } from '../api/routes/metrics.routes.js';
import { webhookRoutes } from '../api/routes/webhook.routes.js';
import { type App, createApp, packageVersion, requireTelegram } from '../app.js';
import { type BotContext, createBot, publishCommands } from '../bot/index.js';
import { startPolling } from '../bot/polling.js';
import { type Config, redactConfig } from '../config.js';
import { migrateUp, pendingMigrations } from '../platform/db/migrator.js';
import { createErrorReporter } from '../platform/error-reporting.js';
import { createHttpServer } from '../platform/http.js';
import { startWorker } from '../worker/index.js';
import { CliError, listenError } from './cli-error.js';
import type { Command, Running } from './commands.js';
import { checkLlm, type LocalLlm } from './llm-setup.js';
import { prepare } from './role-prepare.js';

export type Role = 'all' | 'api' | 'bot' | 'worker' | 'admin';

type PortVariable = 'API_PORT' | 'ADMIN_PORT' | 'BOT_PORT' | 'WORKER_PORT';

/** What a role runs. Every role serves /health and /metrics on its own port. */
interface RoleSpec {
  port: PortVariable;
  /** The public API (docs, /api/v1) rather than only the probes. */
  api: boolean;
  admin: boolean;
  /** When the bot runs here: by long polling, by serving the webhook, or in either mode. */
  bot: 'polling' | 'webhook' | 'either' | 'never';
  worker: boolean;
  /**
   * Runs on embedded PGlite (one process for everything); there, with no BOT_TOKEN, it starts the
   * Bot API emulator and the playground.
   */
  embedded: boolean;
}

export const ROLES: Readonly<Record<Role, RoleSpec>> = {
  all: { port: 'API_PORT', api: true, admin: true, bot: 'either', worker: true, embedded: true },
  api: { port: 'API_PORT', api: true, admin: false, bot: 'webhook', worker: false, embedded: false },
  admin: { port: 'ADMIN_PORT', api: false, admin: true, bot: 'never', worker: false, embedded: false },
  bot: { port: 'BOT_PORT', api: false, admin: false, bot: 'polling', worker: false, embedded: false },
  worker: { port: 'WORKER_PORT', api: false, admin: false, bot: 'never', worker: true, embedded: false },
};

function runsBot(spec: RoleSpec, config: Readonly<Config>): boolean {
  return spec.bot === 'either' || spec.bot === config.BOT_MODE;
}

/**
 * Embedded `all` applies its own migrations so `npm start` just works; every other role expects
 * `vitte migrate up` to have run and refuses to start on an outdated schema.
 */
async function ensureSchema(app: App, spec: RoleSpec): Promise<void> {
  if (app.database.kind === 'pglite' && spec.embedded) {
    await migrateUp(app.db, app.logger);
    return;
  }
  const pending = await pendingMigrations(app.db);
  if (pending.length) {
    throw new CliError(
      `database schema is not current (pending: ${pending.join(', ')}); run "vitte migrate up" first`,
    );
  }
}

/** Where a person opens what listens on `host`: a wildcard address is reached as localhost. */
function browserUrl(host: string, port: number): string {
  const name = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return `http://${name}:${port}`;
}

async function listen(app: App, server: FastifyInstance, role: Role, spec: RoleSpec): Promise<number> {
  const port = app.config[spec.port];
  // Stop accepting connections first; in-flight requests finish before storage closes.
  app.lifecycle.onClose(`http-${role}`, () => server.close());
  try {
    await server.listen({ host: app.config.HOST, port });
  } catch (err) {
    throw listenError(err, spec.port, app.config.HOST, port);
  }
  const address = server.server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  app.logger.info({ role, url: `http://${app.config.HOST}:${bound}` }, 'listening');
  return bound;
}

function needsToken(config: Readonly<Config>, role: Role): string {
  if (!config.BOT_TOKEN) throw new CliError(`the ${role} role needs BOT_TOKEN`);
  return config.BOT_TOKEN;
}

export interface Started {
  app: App;
  /** Base URL of the role's HTTP server. */
  url: string;
  /** Set when embedded `all` started the local Bot API emulator. */
  emulatorUrl: string | undefined;
}

export interface StartOptions {
  /** Local OpenAI-compatible servers looked for in development (default: Ollama, llama.cpp). */
  localLlms?: readonly LocalLlm[];
}

export async function startRole(
  role: Role,
  baseConfig: Readonly<Config>,
  opts: StartOptions = {},
): Promise<Started> {
  const spec = ROLES[role];
  if (!spec.embedded && baseConfig.embedded) {
    throw new CliError(`the ${role} role needs DATABASE_URL (embedded PGlite serves the "all" role only)`);
  }
  if (spec.bot === 'polling' && baseConfig.BOT_MODE === 'webhook') {
    throw new CliError(
      'BOT_MODE=webhook: updates arrive at the api role; run "vitte bot" only for long polling',
    );
  }
  const usesLlm = spec.worker || runsBot(spec, baseConfig);
  const { config, emulator, llm, undo } = await prepare(baseConfig, {
    command: role,
    emulator: spec.embedded,
    comfyui: spec.embedded && spec.worker,
    llm: usesLlm,
    ...(opts.localLlms ? { localLlms: opts.localLlms } : {}),
  });
  const reporter = await createErrorReporter({
    dsn: config.SENTRY_DSN,
    environment: config.NODE_ENV,
    release: packageVersion(),
    role,
  });
  const app = createApp(config, { role, reportError: reporter.report });
  app.logger.info({ role, config: redactConfig(config) }, 'configuration');
  app.lifecycle.onClose('error-reporting', () => reporter.close());
  // The parts started before the app outlive it: jobs still draining talk to them.
  for (const u of undo) app.lifecycle.afterClose(u.name, u.close);
  try {
    await ensureSchema(app, spec);
    if (usesLlm) checkLlm(app, llm);
    const server = createHttpServer({
      logger: app.logger,
      metrics: app.metrics,
      trustProxy: config.TRUST_PROXY,
      publicUrl: config.PUBLIC_URL,
    });
    if (spec.api) await registerApi(server, app);
    else {
      await server.register(healthRoutes(app));
      await server.register(metricsRoutes(app.metrics));
    }
    if (spec.admin) await registerAdmin(server, app);

    let bot: Bot<BotContext> | undefined;
    if (runsBot(spec, config)) {
      bot = createBot(app, {
        token: needsToken(config, role),
        apiRoot: config.TELEGRAM_API_ROOT,
        redis: app.redis,
      });
    }
    if (bot && config.BOT_MODE === 'webhook') {
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
    if (emulator) {
      const { registerPlayground } = await import('../dev/playground/index.js');
      await server.register(registerPlayground, { emulatorUrl: emulator.url });
    }

    const port = await listen(app, server, role, spec);
    const url = `http://${config.HOST}:${port}`;
    const open = browserUrl(config.HOST, port);
    if (spec.worker) {
      needsToken(config, role); // the one-line error; requireTelegram only narrows the type
      await startWorker(requireTelegram(app, role));
    }
    if (bot && config.BOT_MODE === 'polling')
      app.lifecycle.onClose('bot-polling', await startPolling(bot, app));
    // Only once everything runs: a start that fails before must not use up the owner's password.
    if (spec.admin) await bootstrapAdmin(app, { signInUrl: `${open}/admin` });
    app.logger.info(
      {
        role,
        embedded: config.embedded,
        redis: Boolean(app.redis),
        botMode: bot ? config.BOT_MODE : 'off',
        llm: spec.worker || bot ? config.llmSource : undefined,
        emulator: emulator?.url,
      },
      'started',
    );
    if (emulator)
      app.logger.info({ url: `${open}/playground` }, `playground: talk to the bot at ${open}/playground`);
    if (spec.admin) app.logger.info({ url: `${open}/admin` }, `admin panel: ${open}/admin`);
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
    help: `Listens on ${ROLES[role].port}, where it also serves /health, /health/ready and /metrics.`,
    async run(_args, config): Promise<Running> {
      const { app } = await startRole(role, config);
      return { logger: app.logger, close: () => app.close() };
    },
  };
}
