import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type BotApiEmulator, createBotApiEmulator } from '../../src/dev/bot-api-emulator/index.js';
import { startFakeComfy } from '../../src/dev/fake-comfyui/index.js';
import type { FakeLlm } from '../../src/dev/fake-llm/fake-llm.types.js';
import { createFakeLlm } from '../../src/dev/fake-llm/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { type RunningProcess, run, spawnProcess } from '../helpers/process.js';
import { freePort, waitForHttp } from './stack-process.js';
import {
  composeEnvironments,
  renderNginxConf,
  renderPrometheusConfig,
  withStaticUpstreams,
} from './stack-render.js';
import { builtAppDir, stackTools, tlsDir } from './stack-tools.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const DEPLOY = join(ROOT, 'deploy');
const ARTIFACTS = join(ROOT, 'test-artifacts/stack');

export interface StackOptions {
  label: string;
  apiReplicas: number;
  workerReplicas: number;
}

/** A `vitte <role>` process and the port of its HTTP server. */
export interface RoleProcess {
  proc: RunningProcess;
  port: number;
  /** http://127.0.0.1:<port>, straight to the process (Prometheus' view, not the public one). */
  url: string;
}

export interface Stack {
  readonly opts: StackOptions;
  /** This stack's scratch directory (removed by close). */
  readonly workDir: string;
  /** The public HTTPS origin through nginx: https://localhost:<port>. */
  readonly publicUrl: string;
  readonly tlsPort: number;
  /** nginx's plain-HTTP server (redirects): http://localhost:<port>. */
  readonly httpUrl: string;
  readonly nginx: RunningProcess;
  readonly nginxConf: string;
  /** nginx's ACME webroot (NGINX_ACME_ROOT). */
  readonly acmeDir: string;
  readonly prometheusUrl: string;
  readonly exporterUrls: { postgres: string; redis: string };
  /** Telegram for the webhook deployment (api + worker). */
  readonly emulator: BotApiEmulator;
  /** Telegram for the long-polling bot role (its own bot token). */
  readonly pollingEmulator: BotApiEmulator;
  readonly llm: FakeLlm;
  readonly testDb: TestDatabase;
  readonly webhookSecret: string;
  readonly admin: { role: RoleProcess; username: string; password: string };
  readonly api: RoleProcess[];
  readonly workers: RoleProcess[];
  readonly bot: RoleProcess;
  /**
   * The test's value of every variable of the webhook deployment; each role gets the ones its
   * Compose service is given (see envFor), and no other.
   */
  readonly env: Record<string, string>;
  /** Runs a one-shot `vitte ...` command from the production build, as its Compose service would. */
  vitte(args: string[], env?: Record<string, string>): Promise<{ code: number | null; output: string }>;
  /** Every running process, for logs and shutdown. */
  processes(): RunningProcess[];
  close(): Promise<void>;
}

function startRole(name: string, role: string, env: Record<string, string>, port: number): RoleProcess {
  const proc = spawnProcess(name, process.execPath, ['bin/vitte.js', role], { cwd: builtAppDir(), env });
  return { proc, port, url: `http://127.0.0.1:${port}` };
}

async function waitStarted(role: RoleProcess): Promise<void> {
  await role.proc.waitForLine((l) => l.includes('"msg":"started"'), 60_000);
}

/**
 * Runs the production topology of deploy/ as real processes on this machine: Redis with
 * deploy/redis/redis.conf, `vitte migrate up`, api x N and worker x N in webhook mode, admin, a
 * long-polling bot, nginx with deploy/nginx/nginx.conf, the two exporters and Prometheus with
 * deploy/prometheus/. Telegram and the LLM are the project's emulators in this process. Every vitte
 * process gets only the variables deploy/docker-compose.yml gives its service: a secret the Compose
 * file keeps from a role is one that role is shown to work without.
 */
export async function startStack(opts: StackOptions): Promise<Stack> {
  const tools = stackTools();
  const dir = mkdtempSync(join(tmpdir(), `vitte-stack-${opts.label}-`));
  chmodSync(dir, 0o755);
  const procs: RunningProcess[] = [];
  const track = <T extends RunningProcess>(p: T) => {
    procs.push(p);
    return p;
  };
  const closers: (() => Promise<unknown>)[] = [];

  const close = async () => {
    for (const p of [...procs].reverse()) await p.stop('SIGTERM', 15_000).catch(() => {});
    for (const c of closers.reverse()) await c().catch(() => {});
    mkdirSync(join(ARTIFACTS, opts.label), { recursive: true });
    for (const p of procs) writeFileSync(join(ARTIFACTS, opts.label, `${p.name}.log`), p.output());
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const testDb = await createTestDatabase(`stack_${opts.label}`);
    closers.push(() => testDb.drop());
    if (!testDb.url) throw new Error('the stack test needs PostgreSQL');

    // Redis exactly as Compose configures it, on a port of its own, with a password.
    const redisPort = await freePort();
    const redisPassword = randomBytes(16).toString('hex');
    mkdirSync(join(dir, 'redis'));
    const redis = track(
      spawnProcess(
        'redis',
        tools['redis-server'],
        [
          join(DEPLOY, 'redis/redis.conf'),
          '--port',
          String(redisPort),
          '--bind',
          '127.0.0.1',
          '--requirepass',
          redisPassword,
        ],
        { cwd: join(dir, 'redis') },
      ),
    );
    await redis.waitForLine(/Ready to accept connections/, 15_000);

    const emulator = await createBotApiEmulator();
    closers.push(() => emulator.close());
    const pollingEmulator = await createBotApiEmulator();
    closers.push(() => pollingEmulator.close());
    const llmKey = `sk-stack-${randomBytes(8).toString('hex')}`;
    const llm = await createFakeLlm({ apiKey: llmKey });
    closers.push(() => llm.close());
    // A GPU server behind a token, as COMFYUI_URLS gives it to the worker and admin roles.
    const comfyAuth = `Bearer comfy-${randomBytes(8).toString('hex')}`;
    const comfy = await startFakeComfy({ authorization: comfyAuth, maxImageSide: 64 });
    closers.push(() => comfy.close());

    const tlsPort = await freePort();
    const httpPort = await freePort();
    const promPort = await freePort();
    const pgExporterPort = await freePort();
    const redisExporterPort = await freePort();
    const adminPort = await freePort();
    const botPort = await freePort();
    const apiPorts = await Promise.all(Array.from({ length: opts.apiReplicas }, () => freePort()));
    const workerPorts = await Promise.all(Array.from({ length: opts.workerReplicas }, () => freePort()));
    const publicUrl = `https://localhost:${tlsPort}`;
    const webhookSecret = `stack_${randomBytes(16).toString('hex')}`;
    const adminPassword = randomBytes(12).toString('hex');

    const env: Record<string, string> = {
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      ADMIN_PORT: String(adminPort),
      TRUST_PROXY: 'true',
      PUBLIC_URL: publicUrl,
      SHUTDOWN_TIMEOUT_MS: '10000',
      DATABASE_URL: testDb.url,
      // Seven processes share the test server's connection limit with other suites.
      DB_POOL_MAX: '5',
      REDIS_URL: `redis://:${redisPassword}@127.0.0.1:${redisPort}`,
      BOT_TOKEN: emulator.token,
      TELEGRAM_API_ROOT: emulator.url,
      BOT_MODE: 'webhook',
      WEBHOOK_URL: `${publicUrl}/telegram/webhook`,
      WEBHOOK_SECRET: webhookSecret,
      BOT_RATE_LIMIT_POINTS: '1000',
      LLM_BASE_URL: llm.url,
      LLM_API_KEY: llmKey,
      COMFYUI_URLS: `${comfy.url};auth=${comfyAuth};name=gpu`,
      LLM_MAX_RETRIES: '0',
      CHAT_STREAM_INTERVAL_MS: '200',
      // One job at a time per worker: with two workers, overlapping replies must be shared.
      WORKER_CONCURRENCY: '1',
      ADMIN_BOOTSTRAP_USERNAME: 'owner',
      ADMIN_BOOTSTRAP_PASSWORD: adminPassword,
      ADMIN_COOKIE_SECURE: 'true',
    };
    // What Compose gives each service, by name: a role process gets these variables and no others.
    const composeEnv = composeEnvironments(readFileSync(join(DEPLOY, 'docker-compose.yml'), 'utf8'));
    const envFor = (service: string, values: Record<string, string>): Record<string, string> => {
      const keys = composeEnv[service];
      if (!keys) throw new Error(`docker-compose.yml has no service ${service}`);
      const given = Object.keys(values).filter((k) => Object.values(composeEnv).some((v) => v.includes(k)));
      const unknown = Object.keys(values).filter((k) => !given.includes(k));
      // A value the test sets that Compose gives no service at all would be a test of nothing.
      if (unknown.length) throw new Error(`docker-compose.yml gives no service ${unknown.join(', ')}`);
      return Object.fromEntries(Object.entries(values).filter(([k]) => keys.includes(k)));
    };
    // The one-shot commands and the Compose services that run them.
    const COMMAND_SERVICE: Record<string, string> = { migrate: 'migrations', webhook: 'webhook' };
    const vitte = (args: string[], extra: Record<string, string> = {}) => {
      const service = COMMAND_SERVICE[args[0] ?? ''];
      if (!service) throw new Error(`no Compose service runs "vitte ${args.join(' ')}"`);
      return run(process.execPath, ['bin/vitte.js', ...args], {
        cwd: builtAppDir(),
        env: envFor(service, { ...env, ...extra }),
        timeoutMs: 60_000,
      });
    };

    // Compose: `migrations` runs once and every app service waits for it to succeed.
    const migrate = await vitte(['migrate', 'up']);
    if (migrate.code !== 0) throw new Error(`vitte migrate up failed:\n${migrate.output}`);

    const api = apiPorts.map((port, i) =>
      startRole(`api-${i + 1}`, 'api', envFor('api', { ...env, API_PORT: String(port) }), port),
    );
    const workers = workerPorts.map((port, i) =>
      startRole(`worker-${i + 1}`, 'worker', envFor('worker', { ...env, WORKER_PORT: String(port) }), port),
    );
    const admin = startRole('admin', 'admin', envFor('admin', { ...env, API_PORT: '0' }), adminPort);
    // The polling profile's bot role, on its own bot and queue prefix so it cannot take the webhook
    // deployment's updates or jobs.
    const bot = startRole(
      'bot',
      'bot',
      envFor('bot', {
        ...env,
        BOT_PORT: String(botPort),
        BOT_MODE: 'polling',
        BOT_TOKEN: pollingEmulator.token,
        TELEGRAM_API_ROOT: pollingEmulator.url,
        REDIS_PREFIX: 'vitte-polling',
      }),
      botPort,
    );
    const roles = [...api, ...workers, admin, bot];
    for (const r of roles) track(r.proc);
    await Promise.all(roles.map(waitStarted));

    // nginx with the project's nginx.conf: only the ports, paths and upstream addresses are ours.
    // Debian's nginx 1.22 has no `server ... resolve` (Docker's DNS is not here either): each
    // upstream's service name becomes this stack's processes, with the same parameters.
    const nginxDir = join(dir, 'nginx');
    mkdirSync(join(nginxDir, 'run'), { recursive: true });
    mkdirSync(join(nginxDir, 'acme'));
    const nginxConf = withStaticUpstreams(
      renderNginxConf(readFileSync(join(DEPLOY, 'nginx/nginx.conf'), 'utf8'), {
        NGINX_RUNTIME_DIR: join(nginxDir, 'run'),
        NGINX_HTTP_LISTEN: `127.0.0.1:${httpPort}`,
        NGINX_HTTPS_LISTEN: `127.0.0.1:${tlsPort}`,
        NGINX_SERVER_NAME: 'localhost',
        NGINX_TLS_DIR: tlsDir(),
        NGINX_ACME_ROOT: join(nginxDir, 'acme'),
      }),
      { api: apiPorts.map((p) => `127.0.0.1:${p}`), admin: [`127.0.0.1:${adminPort}`] },
    );
    const confPath = join(nginxDir, 'nginx.conf');
    writeFileSync(confPath, nginxConf);
    const nginxArgs = ['-p', nginxDir, '-c', confPath, '-e', 'stderr'];
    const check = await run(tools.nginx, [...nginxArgs, '-t'], { logFile: join(nginxDir, 'check.log') });
    if (check.code !== 0) throw new Error(`nginx -t refused the rendered nginx.conf:\n${check.output}`);
    const nginx = track(
      spawnProcess('nginx', tools.nginx, [...nginxArgs, '-g', 'daemon off;'], {
        logFile: join(nginxDir, 'output.log'),
      }),
    );
    await waitForHttp(`http://127.0.0.1:${httpPort}/nginx-health`, 15_000);

    // Compose's `webhook` service (webhook profile): register the public URL and the secret.
    const webhook = await vitte(['webhook', 'set']);
    if (webhook.code !== 0) throw new Error(`vitte webhook set failed:\n${webhook.output}`);

    track(
      spawnProcess(
        'postgres-exporter',
        tools['prometheus-postgres-exporter'],
        [`--web.listen-address=127.0.0.1:${pgExporterPort}`],
        { env: { DATA_SOURCE_NAME: `${testDb.url}?sslmode=disable` } },
      ),
    );
    track(
      spawnProcess('redis-exporter', tools['prometheus-redis-exporter'], [
        '-web.listen-address',
        `127.0.0.1:${redisExporterPort}`,
        '-redis.addr',
        `redis://127.0.0.1:${redisPort}`,
        '-redis.password',
        redisPassword,
      ]),
    );
    const exporterUrls = {
      postgres: `http://127.0.0.1:${pgExporterPort}`,
      redis: `http://127.0.0.1:${redisExporterPort}`,
    };
    await Promise.all([
      waitForHttp(`${exporterUrls.postgres}/metrics`),
      waitForHttp(`${exporterUrls.redis}/metrics`),
    ]);

    // Prometheus with the project's scrape config and alert rules; only the discovery is ours.
    const promDir = join(dir, 'prometheus');
    mkdirSync(join(promDir, 'data'), { recursive: true });
    const promConfig = join(promDir, 'prometheus.yml');
    const hostPort = (r: RoleProcess) => `127.0.0.1:${r.port}`;
    writeFileSync(
      promConfig,
      renderPrometheusConfig(readFileSync(join(DEPLOY, 'prometheus/prometheus.yml'), 'utf8'), {
        configDir: join(DEPLOY, 'prometheus'),
        interval: '2s',
        targets: {
          prometheus: [`127.0.0.1:${promPort}`],
          'vitte-api': api.map(hostPort),
          'vitte-worker': workers.map(hostPort),
          'vitte-bot': [hostPort(bot)],
          'vitte-admin': [hostPort(admin)],
          postgres: [`127.0.0.1:${pgExporterPort}`],
          redis: [`127.0.0.1:${redisExporterPort}`],
        },
      }),
    );
    const prometheusUrl = `http://127.0.0.1:${promPort}`;
    track(
      spawnProcess('prometheus', tools.prometheus, [
        `--config.file=${promConfig}`,
        `--storage.tsdb.path=${join(promDir, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ]),
    );
    await waitForHttp(`${prometheusUrl}/-/ready`);

    return {
      opts,
      workDir: dir,
      publicUrl,
      tlsPort,
      httpUrl: `http://localhost:${httpPort}`,
      nginx,
      nginxConf,
      acmeDir: join(nginxDir, 'acme'),
      prometheusUrl,
      exporterUrls,
      emulator,
      pollingEmulator,
      llm,
      testDb,
      webhookSecret,
      admin: { role: admin, username: 'owner', password: adminPassword },
      api,
      workers,
      bot,
      env,
      vitte,
      processes: () => [...procs],
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
