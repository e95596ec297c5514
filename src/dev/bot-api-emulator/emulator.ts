import { randomBytes } from 'node:crypto';
import formbody from '@fastify/formbody';
import multipart from '@fastify/multipart';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  LogController,
} from 'fastify';
import type { UserFromGetMe } from 'grammy/types';
import type { Logger } from 'pino';
import { registerBotApiRoutes } from './bot-api.routes.js';
import { BotApiError } from './bot-api-error.js';
import { EmulatorClient } from './client.js';
import { registerControlRoutes } from './control.routes.js';
import { ControlError } from './control-input.js';
import { EmulatorCore, PRE_CHECKOUT_TIMEOUT_MS } from './emulator-core.js';
import type { EventListener } from './event-hub.js';
import { EventStreams } from './event-stream.js';
import type { FloodLimits, WebhookRetry } from './types.js';
import { InjectionError } from './update-factory.js';

export interface BotApiEmulatorOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Defaults to 127.0.0.1. */
  host?: string;
  /** The one accepted bot token; a random valid-looking one when left out. */
  token?: string;
  /** Defaults to `vitte_dev_bot`. */
  botUsername?: string;
  /** Defaults to `Vitte (dev)`. */
  botName?: string;
  logger?: Logger;
  /** Flood limits from the start (none by default); `reset` comes back to these. */
  flood?: Partial<FloodLimits>;
  /** Webhook retry backoff; defaults 1 s doubling to 30 s, 30 s timeout. */
  webhookRetry?: Partial<WebhookRetry>;
  /** How many calls `GET /_emulator/calls` keeps (oldest dropped); counters are kept regardless. */
  maxRecordedCalls?: number;
  /** Bytes of uploaded files kept for getFile and the playground; older data is dropped. */
  maxFileBytes?: number;
  /** How long the bot has to answer a pre-checkout query; Telegram's 10 s by default. */
  preCheckoutTimeoutMs?: number;
  /**
   * The first message id of every chat; 1 by default. A bot that keeps its data across emulator
   * restarts (the embedded `vitte all`) needs ids a restarted emulator never hands out again, as
   * Telegram never does: it takes a duplicate message id for a re-delivered message.
   */
  firstMessageId?: number;
}

export interface BotApiEmulator {
  /** `http://host:port`; give it to grammY as `apiRoot` (TELEGRAM_API_ROOT). */
  readonly url: string;
  readonly token: string;
  readonly botUser: UserFromGetMe;
  /** A control-API client bound to this emulator. */
  readonly client: EmulatorClient;
  /** The state and simulations, for in-process callers that want no HTTP. */
  readonly core: EmulatorCore;
  /** Follows every emulator event in-process; returns the unsubscribe function. */
  subscribe(listener: EventListener): () => void;
  close(): Promise<void>;
}

const MAX_UPLOAD_BYTES = 50 * 1024 * 1024;

function defaultToken(): string {
  return `7${String(Math.floor(Math.random() * 1e9)).padStart(9, '0')}:AA${randomBytes(25).toString('base64url').slice(0, 33)}`;
}

function botUserFor(token: string, opts: BotApiEmulatorOptions): UserFromGetMe {
  const id = Number(/^(\d+):/.exec(token)?.[1] ?? 7_000_000_001);
  return {
    id,
    is_bot: true,
    first_name: opts.botName ?? 'Vitte (dev)',
    username: opts.botUsername ?? 'vitte_dev_bot',
    can_join_groups: true,
    can_read_all_group_messages: false,
    supports_inline_queries: false,
    can_connect_to_business: false,
    has_main_web_app: false,
    has_topics_enabled: false,
    allows_users_to_create_topics: false,
    can_manage_bots: false,
    supports_join_request_queries: false,
  };
}

function registerParsers(app: FastifyInstance): void {
  // Telegram accepts an empty JSON body (grammY sends one for getMe); Fastify's default does not.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, text, done) => {
    const s = String(text);
    if (s.trim() === '') return done(null, {});
    try {
      done(null, JSON.parse(s));
    } catch (err) {
      done(
        new BotApiError(400, "Bad Request: can't parse JSON object", undefined, { cause: err }),
        undefined,
      );
    }
  });
  app.register(formbody);
  app.register(multipart, { limits: { fileSize: MAX_UPLOAD_BYTES, files: 20, fieldSize: 1024 * 1024 } });
  // Anything else carries its parameters in the query string, as Telegram allows.
  app.addContentTypeParser('*', (_req, payload, done) => {
    payload.resume();
    payload.on('end', () => done(null, undefined));
  });
}

function registerErrorHandling(app: FastifyInstance, logger: Logger | undefined): void {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const control = req.url.startsWith('/_emulator/');
    if (control) {
      const status =
        err instanceof ControlError
          ? err.status
          : err instanceof InjectionError
            ? 400
            : (err.statusCode ?? 500);
      if (status >= 500) logger?.error({ err }, 'bot api emulator control request failed');
      return reply.code(status).send({ error: status >= 500 ? 'internal error' : err.message });
    }
    if (err instanceof BotApiError) return reply.code(err.errorCode).send(err.toJSON());
    const status = err.statusCode ?? 500;
    if (status >= 500) {
      logger?.error({ err }, 'bot api emulator request failed');
      return reply.code(500).send({ ok: false, error_code: 500, description: 'Internal Server Error' });
    }
    const description = status === 413 ? 'Request Entity Too Large' : `Bad Request: ${err.message}`;
    return reply.code(status).send({ ok: false, error_code: status, description });
  });
  app.setNotFoundHandler((_req, reply) =>
    reply.code(404).send({ ok: false, error_code: 404, description: 'Not Found' }),
  );
}

/**
 * Starts a local Telegram Bot API: the real wire format for the bot and workers, plus a control
 * API under `/_emulator/` for tests, benchmarks and the playground.
 */
export async function createBotApiEmulator(opts: BotApiEmulatorOptions = {}): Promise<BotApiEmulator> {
  const token = opts.token ?? defaultToken();
  const botUser = botUserFor(token, opts);
  const logger = opts.logger?.child({ component: 'bot-api-emulator' });
  const core = new EmulatorCore({
    botUser,
    logger,
    flood: opts.flood ?? {},
    webhookRetry: opts.webhookRetry ?? {},
    maxRecordedCalls: opts.maxRecordedCalls ?? 50_000,
    maxFileBytes: opts.maxFileBytes ?? 256 * 1024 * 1024,
    preCheckoutTimeoutMs: opts.preCheckoutTimeoutMs ?? PRE_CHECKOUT_TIMEOUT_MS,
    firstMessageId: opts.firstMessageId ?? 1,
  });
  const streams = new EventStreams(core.events);

  const app = Fastify({
    ...(logger ? { loggerInstance: logger as FastifyBaseLogger } : { logger: false }),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: MAX_UPLOAD_BYTES,
    forceCloseConnections: true,
    // Long polls last up to 50 s; Node's default request timeout must not cut them.
    requestTimeout: 0,
  });
  registerParsers(app);
  registerErrorHandling(app, logger);
  registerBotApiRoutes(app, { token, dispatcher: core.dispatcher, store: core.store });
  registerControlRoutes(app, core, streams);

  const address = await app.listen({ port: opts.port ?? 0, host: opts.host ?? '127.0.0.1' });
  const url = address.replace('://[::1]', '://localhost');
  logger?.info({ url }, 'bot api emulator listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    token,
    botUser,
    client: new EmulatorClient(url),
    core,
    subscribe: (listener) => core.events.subscribe(listener),
    close() {
      closing ??= (async () => {
        core.close();
        streams.closeAll();
        // Let the released long polls write their (empty) answers before connections are cut.
        await new Promise((resolve) => setImmediate(resolve));
        await app.close();
      })();
      return closing;
    },
  };
}
