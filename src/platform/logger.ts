import { AsyncLocalStorage } from 'node:async_hooks';
import { type Logger, pino } from 'pino';
import { type ReportError, reportingHook } from './error-reporting.js';

export type { Logger } from 'pino';

/** Telegram bot tokens look like `123456789:AA…`; they also appear inside Bot API URLs. */
const BOT_TOKEN_PATTERN = /\d{5,12}:[A-Za-z0-9_-]{30,}/g;

const logContext = new AsyncLocalStorage<Record<string, unknown>>();

// pino writes a child's bindings after its parent's as text, and the context fields next to them:
// a key bound twice (a service's `component` re-bound by a library it is given, a job id bound by
// the runner and in the context) would appear twice in one JSON line. Parsers disagree on which
// wins, so each key is written once: the child's binding replaces the parent's, and the context
// only adds what the logger has not bound.
const { chindingsSym } = pino.symbols;

function chindingsOf(logger: object): string {
  return (logger as Record<symbol, string | undefined>)[chindingsSym] ?? '';
}

function parseBindings(chindings: string): Record<string, unknown> {
  return JSON.parse(`{${chindings.slice(1)}}`) as Record<string, unknown>;
}

function dedupeBindings(child: pino.Logger): void {
  const text = JSON.stringify(parseBindings(chindingsOf(child))).slice(1, -1);
  (child as unknown as Record<symbol, string>)[chindingsSym] = text ? `,${text}` : '';
}

const boundKeys = new WeakMap<object, { chindings: string; keys: Set<string> }>();

function keysBoundTo(logger: pino.Logger): Set<string> {
  const chindings = chindingsOf(logger);
  const cached = boundKeys.get(logger);
  if (cached?.chindings === chindings) return cached.keys;
  const keys = new Set(Object.keys(parseBindings(chindings)));
  boundKeys.set(logger, { chindings, keys });
  return keys;
}

function contextFields(logger: pino.Logger): Record<string, unknown> {
  const fields = logContext.getStore();
  if (!fields) return {};
  const bound = keysBoundTo(logger);
  if (!Object.keys(fields).some((k) => bound.has(k))) return fields;
  return Object.fromEntries(Object.entries(fields).filter(([k]) => !bound.has(k)));
}

/**
 * Run `fn` with these fields on every line logged inside it, by any logger: an update's id and
 * user, so the services it calls log with them too.
 */
export function withLogContext<T>(fields: Record<string, unknown>, fn: () => T): T {
  return logContext.run({ ...logContext.getStore(), ...fields }, fn);
}

export interface LoggerOptions {
  level: string;
  pretty: boolean;
  /** Exact secret values that must never reach a log line. */
  secrets?: (string | undefined)[];
  destination?: pino.DestinationStream;
  /** Error-level lines with an `err` are also reported (Sentry). */
  report?: ReportError | undefined;
}

/**
 * JSON logger. Every written line passes through a scrubber that masks bot tokens and the
 * configured secret values, so a token inside an error message or URL never leaks.
 */
export function createLogger(opts: LoggerOptions): Logger {
  const secrets = (opts.secrets ?? []).filter((s): s is string => typeof s === 'string' && s.length >= 6);
  const scrub = (line: string): string => {
    let out = line.replace(BOT_TOKEN_PATTERN, '***');
    for (const s of secrets) out = out.split(s).join('***');
    return out;
  };
  const options: pino.LoggerOptions = {
    level: opts.level,
    base: { pid: process.pid },
    mixin: (_obj, _level, logger) => contextFields(logger),
    onChild: dedupeBindings,
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'req.headers["x-telegram-bot-api-secret-token"]',
      ],
      censor: '***',
    },
    hooks: { streamWrite: scrub, ...(opts.report ? { logMethod: reportingHook(opts.report, scrub) } : {}) },
  };
  if (opts.destination) return pino(options, opts.destination);
  if (opts.pretty) {
    return pino({
      ...options,
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } },
    });
  }
  return pino(options);
}
