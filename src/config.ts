import { z } from 'zod';
import { secretProblems } from './config-secrets.js';
import { type ComfyBackendConfig, parseComfyBackends } from './integrations/comfyui/comfyui-backends.js';

/**
 * The whole runtime configuration, read once from the environment.
 * Nothing else in the code base touches `process.env`.
 */

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const num = (min: number, max: number) => z.coerce.number().min(min).max(max);
const list = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);
/** `chat=16,delivery=4`: an integer in min..max per name, each name once. */
const perName = (min: number, max: number) =>
  z.string().transform((v, ctx) => {
    const out: Record<string, number> = {};
    const parts = v.split(',').map((s) => s.trim());
    for (const part of parts.filter(Boolean)) {
      const m = /^([A-Za-z0-9._-]+)\s*=\s*(\d+)$/.exec(part);
      const [name, n] = m ? [m[1] as string, Number(m[2])] : ['', Number.NaN];
      if (!m || n < min || n > max)
        ctx.addIssue({ code: 'custom', message: `"${part}" is not <name>=<${min}..${max}>` });
      else if (Object.hasOwn(out, name))
        ctx.addIssue({ code: 'custom', message: `"${name}" is given twice` });
      else out[name] = n;
    }
    return out;
  });
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));
const optionalUrl = optionalString.pipe(z.url().optional());
/** COMFYUI_URLS: its own grammar (see parseComfyBackends); every bad entry is reported. */
const comfyBackends = z
  .string()
  .default('')
  .transform((v, ctx) => {
    const parsed = parseComfyBackends(v);
    if (parsed.ok) return parsed.backends;
    for (const message of parsed.errors) ctx.addIssue({ code: 'custom', message });
    return z.NEVER;
  });

export const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_PRETTY: bool.optional(),

  HOST: z.string().min(1).default('127.0.0.1'),
  /** Each role has its own port, so every role can run on one host side by side. */
  API_PORT: int(0, 65535).default(3000),
  ADMIN_PORT: int(0, 65535).default(3001),
  BOT_PORT: int(0, 65535).default(3002),
  WORKER_PORT: int(0, 65535).default(3003),
  /** Where the public reaches this deployment; WEBHOOK_URL defaults to it plus WEBHOOK_PATH. */
  PUBLIC_URL: optionalUrl,
  CORS_ORIGINS: list.default([]),
  TRUST_PROXY: bool.default(false),
  SHUTDOWN_TIMEOUT_MS: int(100).default(15_000),

  DATABASE_URL: optionalUrl,
  DATA_DIR: z.string().min(1).default('./data'),
  DB_POOL_MAX: int(1, 1000).default(20),
  DB_STATEMENT_TIMEOUT_MS: int(0).default(30_000),
  DB_CONNECT_TIMEOUT_MS: int(100).default(5_000),

  REDIS_URL: optionalUrl,
  REDIS_PREFIX: z.string().min(1).default('vitte'),
  /** Update-path Redis commands (claims, rate limit) fall back to this process's memory after this long. */
  REDIS_UPDATE_TIMEOUT_MS: int(10).default(250),

  BOT_TOKEN: optionalString,
  TELEGRAM_API_ROOT: z.url().default('https://api.telegram.org'),
  BOT_MODE: z.enum(['polling', 'webhook']).default('polling'),
  WEBHOOK_URL: optionalUrl,
  WEBHOOK_PATH: z.string().startsWith('/').default('/telegram/webhook'),
  WEBHOOK_SECRET: optionalString.pipe(
    z
      .string()
      .regex(/^[A-Za-z0-9_-]{16,256}$/, '16-256 characters of A-Z, a-z, 0-9, _ and -')
      .optional(),
  ),
  BOT_RATE_LIMIT_POINTS: int(1).default(20),
  BOT_RATE_LIMIT_WINDOW_S: int(1).default(60),
  /** An update being handled is claimed this long (renewed while it runs); a crashed attempt's lapses. */
  BOT_UPDATE_LEASE_MS: int(1000).default(15_000),
  TELEGRAM_MAX_RETRIES: int(0, 10).default(3),
  EMULATOR_PORT: int(0, 65535).default(8081),
  /** A refundStarPayment with no answer by then is treated as unknown: the job reconciles and retries. */
  PAYMENTS_REFUND_TIMEOUT_MS: int(500, 120_000).default(15_000),

  LLM_BASE_URL: optionalUrl,
  LLM_API_KEY: optionalString,
  LLM_MODEL: z.string().min(1).default('gpt-4o-mini'),
  LLM_TEMPERATURE: num(0, 2).default(0.7),
  LLM_MAX_TOKENS: int(1).default(1024),
  LLM_TIMEOUT_MS: int(1000).default(60_000),
  LLM_MAX_RETRIES: int(0, 10).default(2),
  LLM_MAX_CONCURRENCY: int(1).default(16),
  LLM_CONTEXT_TOKENS: int(256).default(8_000),
  LLM_BREAKER_THRESHOLD: int(1).default(5),
  LLM_BREAKER_COOLDOWN_MS: int(1000).default(60_000),
  CHAT_STREAM_INTERVAL_MS: int(100).default(1_000),
  /** Edits in groups: Telegram allows about 20 messages a minute per group. */
  CHAT_STREAM_GROUP_INTERVAL_MS: int(100).default(3_000),

  WORKER_CONCURRENCY: int(1, 1000).default(8),
  /** Per-queue overrides of WORKER_CONCURRENCY; the queue adapter refuses names no job uses. */
  WORKER_QUEUE_CONCURRENCY: perName(1, 1000).default({}),
  BROADCAST_RATE_PER_SEC: num(0.1, 1000).default(25),

  ADMIN_BOOTSTRAP_USERNAME: optionalString,
  ADMIN_BOOTSTRAP_PASSWORD: optionalString.pipe(z.string().min(12, 'at least 12 characters').optional()),
  ADMIN_COOKIE_SECURE: bool.optional(),
  /** Password for `vitte admin create-user` (instead of typing it); never passed in argv. */
  ADMIN_PASSWORD: optionalString,

  SENTRY_DSN: optionalUrl,

  // Images. COMFYUI_URLS: `URL[;auth=<Authorization>][;slots=N][;name=X]`, comma-separated; unset:
  // no images (in development `npm start` runs a fake ComfyUI instead). S3_BUCKET picks S3/MinIO
  // storage for the PNGs, else files under DATA_DIR/objects.
  COMFYUI_URLS: comfyBackends,
  /** Extra workflow files (`<name>.json` + `<name>.params.json`) besides the built-in ones. */
  COMFYUI_WORKFLOW_DIR: optionalString,
  S3_BUCKET: optionalString,
  S3_ENDPOINT: optionalUrl,
  S3_REGION: z.string().min(1).default('us-east-1'),
  S3_ACCESS_KEY_ID: optionalString,
  S3_SECRET_ACCESS_KEY: optionalString,
  /** Bucket in the path, not the host name: MinIO needs it. */
  S3_FORCE_PATH_STYLE: bool.default(true),
  /** Signs the admin panel's image links; unset: a random key per process (links die with it). */
  OBJECT_LINK_SECRET: optionalString.pipe(z.string().min(32, 'at least 32 characters').optional()),
});

/** Rules across variables, checked on the raw environment so they are reported with the rest. */
function crossCheck(env: Record<string, string | undefined>): string[] {
  const set = (k: string) => (env[k] ?? '').trim() !== '';
  const problems: string[] = [];
  if (env.BOT_MODE === 'webhook' && !set('WEBHOOK_SECRET'))
    problems.push('WEBHOOK_SECRET: required when BOT_MODE=webhook');
  if (set('ADMIN_BOOTSTRAP_PASSWORD') && !set('ADMIN_BOOTSTRAP_USERNAME')) {
    problems.push('ADMIN_BOOTSTRAP_USERNAME: required when ADMIN_BOOTSTRAP_PASSWORD is set');
  }
  if (set('S3_ACCESS_KEY_ID') !== set('S3_SECRET_ACCESS_KEY'))
    problems.push('S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY: give both or neither');
  return problems;
}

/** Rules between parsed values (defaults included). */
function checkParsed(c: Raw): string[] {
  // An example file copied unchanged must not run a production deployment.
  const problems: string[] = c.NODE_ENV === 'production' ? secretProblems(c) : [];
  if (c.LLM_MAX_TOKENS >= c.LLM_CONTEXT_TOKENS) {
    problems.push(
      `LLM_MAX_TOKENS: must be below LLM_CONTEXT_TOKENS (${c.LLM_CONTEXT_TOKENS}), or no room is left for the conversation`,
    );
  }
  return problems;
}

type Raw = z.infer<typeof configSchema>;

/**
 * Where the LLM endpoint comes from: LLM_BASE_URL (`env`), a local OpenAI-compatible server found at
 * start (`local`), the built-in demo model (`demo`), or nowhere (`none`). The role start-up decides
 * the last three in development.
 */
export type LlmSource = 'env' | 'local' | 'demo' | 'none';

export interface Config extends Raw {
  /** true when no DATABASE_URL is given: PGlite in-process. */
  readonly embedded: boolean;
  readonly llmSource: LlmSource;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** Parse an environment into a frozen Config, or throw ConfigError listing every bad variable. */
export function loadConfig(env: Record<string, string | undefined>): Readonly<Config> {
  const parsed = configSchema.safeParse(env);
  const problems = [
    ...(parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`)),
    ...crossCheck(env),
    ...(parsed.success ? checkParsed(parsed.data) : []),
  ];
  if (problems.length || !parsed.success) throw new ConfigError(problems);
  const c = parsed.data;
  return Object.freeze({
    ...c,
    CORS_ORIGINS: Object.freeze([...c.CORS_ORIGINS]) as string[],
    COMFYUI_URLS: Object.freeze(c.COMFYUI_URLS.map((b) => Object.freeze({ ...b }))) as ComfyBackendConfig[],
    WEBHOOK_URL:
      c.WEBHOOK_URL ?? (c.PUBLIC_URL ? new URL(c.WEBHOOK_PATH, c.PUBLIC_URL).toString() : undefined),
    embedded: !c.DATABASE_URL,
    llmSource: c.LLM_BASE_URL ? 'env' : 'none',
  });
}

/** Variables holding a secret; anchored, so LLM_MAX_TOKENS and the like stay readable. */
const SECRET_KEYS = /(^|_)(TOKEN|SECRET|PASSWORD|API_KEY|DSN)$/;

/** Remove credentials from a URL while keeping it readable. */
export function redactUrl(value: string): string {
  try {
    const u = new URL(value);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '***';
  }
}

/**
 * Every secret value in the config — tokens, passwords, keys, the Sentry DSN and the passwords
 * inside connection URLs — for the log scrubber: none of them may reach a log line, whatever logs it.
 */
export function configSecrets(config: Readonly<Config>): string[] {
  // A ComfyUI backend's Authorization value, and the credential inside it, never reach a log line.
  const out: string[] = config.COMFYUI_URLS.flatMap((b: ComfyBackendConfig) =>
    b.authorization ? [b.authorization, b.authorization.replace(/^\S+\s+/, '')] : [],
  );
  for (const [key, value] of Object.entries(config)) {
    if (typeof value !== 'string') continue;
    if (SECRET_KEYS.test(key)) out.push(value);
    else if (key.endsWith('_URL')) {
      try {
        const password = new URL(value).password;
        if (password) out.push(password, decodeURIComponent(password));
      } catch {
        // not a URL: nothing to take from it
      }
    }
  }
  return out;
}

/**
 * A copy of the config safe to log: secrets masked, credentials stripped from URLs, and every
 * variable left unset shown as such (an operator reads "not set" where a mask would hide it).
 */
export function redactConfig(config: Readonly<Config>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(configSchema.shape)) out[key] = 'not set';
  for (const [key, value] of Object.entries(config)) {
    if (value === undefined) continue;
    if (SECRET_KEYS.test(key)) out[key] = '***';
    else if (typeof value === 'string' && key.endsWith('_URL')) out[key] = redactUrl(value);
    else if (key === 'COMFYUI_URLS')
      out[key] = config.COMFYUI_URLS.map((b) => ({ name: b.name, url: b.baseUrl, slots: b.slots }));
    else out[key] = value;
  }
  return out;
}
