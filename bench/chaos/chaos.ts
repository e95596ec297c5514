import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Api } from 'grammy';
import { sql } from 'kysely';
import { createBotApiEmulator } from '../../src/dev/bot-api-emulator/index.js';
import { createFakeLlm } from '../../src/dev/fake-llm/index.js';
import { settingDefinitions } from '../../src/domain/settings/settings.definitions.js';
import { SettingsRepository } from '../../src/domain/settings/settings.repository.js';
import { createDatabase } from '../../src/platform/db/database.js';
import { migrateUp } from '../../src/platform/db/migrator.js';
import { createTransactor } from '../../src/platform/db/transactor.js';
import { silentLogger } from '../../test/helpers/db.js';
import { type RunningProcess, spawnProcess } from '../../test/helpers/process.js';
import { freePort } from '../../test/stack/stack-process.js';
import { buildVitte } from '../harness/vitte-build.js';
import { startBalancer } from './balancer.js';
import { type Restartable, startPostgres, startRedis } from './servers.js';
import { Traffic, type TrafficReport, taggedAnswer } from './traffic.js';

const ROOT = resolve(import.meta.dirname, '../..');
/** Each role's whole output of the last run (gitignored, like the build). */
export const LOG_DIR = join(ROOT, '.bench', 'chaos-logs');
const WEBHOOK_SECRET = 'chaos-webhook-secret-0123456789abcdef';
const FIRST_USER = 900_001;
const PROBE_USER = 899_999;

/** One fault: what is done, and (for a dependency) how long it stays down. */
export type Fault =
  | { kind: 'kill-worker' | 'kill-api'; at: number }
  | { kind: 'stop-redis' | 'stop-postgres'; at: number; downMs: number };

export interface ChaosOptions {
  /** People chatting at once. */
  users: number;
  /** Traffic runs this long (ms); then the run waits up to `drainMs` for answers still due. */
  durationMs: number;
  drainMs: number;
  /** Stops asking once this many questions were sent, whatever the time. */
  maxMessages: number;
  faults: Fault[];
  /** Print what happens as it happens. */
  log?: (line: string) => void;
}

export interface FaultReport {
  fault: string;
  /** From the process restarted or the dependency back until a new question was answered. */
  recoveryMs: number | null;
}

export interface ChaosReport {
  traffic: TrafficReport;
  quota: { charged: number; stored: number; answered: number; doubleCharged: number };
  faults: FaultReport[];
  workerKills: number;
  /** Processes that did not come back by themselves after a dependency returned and had to be restarted. */
  restartsNeeded: number;
  /**
   * From Telegram's answer to a chat send until the send was recorded, over every worker of the run
   * (bucket upper bounds): a worker killed inside it sends that part again.
   */
  sendWindowMs: { p50: number; p99: number; max: number; count: number };
  /** Node warnings the roles printed (MaxListenersExceededWarning and the like), by text. */
  warnings: Record<string, number>;
  balancer: { byUpstream: Record<string, number>; refused: number };
  durationMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A vitte role from the production build that the run may kill and start again on the same port. */
class Role {
  proc: RunningProcess | undefined;
  restarts = 0;
  private readonly past: string[] = [];
  constructor(
    readonly name: string,
    private readonly entry: string,
    private readonly role: string,
    private readonly env: Record<string, string>,
    readonly port: number,
  ) {}

  async start(): Promise<void> {
    this.proc = spawnProcess(
      this.name,
      process.execPath,
      ['--enable-source-maps', '--trace-warnings', this.entry, this.role],
      { cwd: ROOT, env: this.env },
    );
    await this.proc.waitForLog((l) => l.msg === 'started', 60_000);
  }

  kill(): void {
    if (this.proc) this.past.push(this.proc.output());
    this.proc?.child.kill('SIGKILL');
  }

  async ready(): Promise<boolean> {
    try {
      return (
        await fetch(`http://127.0.0.1:${this.port}/health/ready`, { signal: AbortSignal.timeout(2_000) })
      ).ok;
    } catch {
      return false;
    }
  }

  alive(): boolean {
    return (
      this.proc !== undefined && this.proc.child.exitCode === null && this.proc.child.signalCode === null
    );
  }

  output(): string {
    return [...this.past, this.proc?.output() ?? ''].join('\n');
  }

  async stop(): Promise<void> {
    if (this.proc) this.past.push(this.proc.output());
    await this.proc?.stop('SIGTERM', 20_000);
  }
}

type Buckets = Map<number, number>;

/** The chat part of `vitte_send_unrecorded_seconds` from the worker's /metrics (cumulative buckets by upper bound). */
async function sendWindowBuckets(role: Role): Promise<Buckets> {
  const buckets: Buckets = new Map();
  try {
    const text = await (await fetch(`http://127.0.0.1:${role.port}/metrics`)).text();
    for (const m of text.matchAll(/^vitte_send_unrecorded_seconds_bucket\{([^}]*)\} (\d+)/gm)) {
      const labels = Object.fromEntries(
        [...(m[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]),
      );
      if (labels.flow !== 'chat') continue;
      buckets.set(labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(labels.le), Number(m[2]));
    }
  } catch {
    // a worker that does not answer has nothing to add
  }
  return buckets;
}

/** The histogram over every worker process of the run (each kill starts a new one at zero). */
class SendWindow {
  private readonly total: Buckets = new Map();
  add(b: Buckets): void {
    for (const [le, n] of b) this.total.set(le, (this.total.get(le) ?? 0) + n);
  }
  /** Percentiles as bucket upper bounds, in ms. */
  summary() {
    const sorted = [...this.total].sort((a, b) => a[0] - b[0]);
    const count = sorted.at(-1)?.[1] ?? 0;
    const at = (p: number) => (sorted.find(([, n]) => n >= p * count)?.[0] ?? Number.NaN) * 1000;
    return { p50: at(0.5), p99: at(0.99), max: at(1), count };
  }
}

/**
 * The chaos run: api ×2 (behind a round-robin balancer, as nginx) and a worker in webhook mode
 * from the production build, behind the Bot API emulator (it re-sends an update until it gets a
 * 2xx, backing off), a fake LLM, a PostgreSQL cluster and a redis-server of the run's own. People
 * chat while the run kills the worker and an api replica (SIGKILL, restarted at once, as Docker's
 * restart policy would) and takes Redis and PostgreSQL down for a while. Then it counts.
 */
export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const log = opts.log ?? (() => {});
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'vitte-chaos-'));
  const closers: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const entry = buildVitte();
    log('build ready');
    const postgres = await startPostgres(dir);
    closers.push(() => postgres.close());
    const redis = await startRedis(dir, join(ROOT, 'deploy/redis/redis.conf'));
    closers.push(() => redis.close());
    const database = createDatabase(
      {
        url: postgres.url,
        dataDir: dir,
        poolMax: 2,
        statementTimeoutMs: 30_000,
        connectTimeoutMs: 5_000,
        applicationName: 'chaos',
      },
      silentLogger,
    );
    await migrateUp(database.db, silentLogger);
    // The quota is taken and counted as always; it just never runs out in the run.
    await new SettingsRepository(createTransactor(database.db, silentLogger)).upsert(
      'plans',
      {
        free: { messages_limit: 1_000_000, images_limit: 10 },
        premium: { messages_limit: 1_000_000, images_limit: 10 },
      },
      settingDefinitions.plans.description,
    );
    closers.push(() => database.close());

    // Telegram backs off up to a minute between retries; the emulator's ceiling is shorter so the
    // run measures the platform's recovery, not the sender's patience.
    const emulator = await createBotApiEmulator({
      webhookRetry: { initialMs: 250, maxMs: 2_000, timeoutMs: 10_000 },
    });
    closers.push(() => emulator.close());
    const llm = await createFakeLlm({ defaultReply: taggedAnswer });
    closers.push(() => llm.close());

    const ports = { api: [await freePort(), await freePort()], worker: await freePort() };
    const balancer = await startBalancer(ports.api.map((p) => `http://127.0.0.1:${p}`));
    closers.push(() => balancer.close());
    const env = {
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      DATABASE_URL: postgres.url,
      DB_POOL_MAX: '10',
      DB_CONNECT_TIMEOUT_MS: '2000',
      REDIS_URL: redis.url,
      REDIS_PREFIX: 'chaos',
      BOT_TOKEN: emulator.token,
      TELEGRAM_API_ROOT: emulator.url,
      BOT_MODE: 'webhook',
      WEBHOOK_SECRET,
      BOT_RATE_LIMIT_POINTS: '100000',
      LLM_BASE_URL: llm.url,
      LLM_MAX_RETRIES: '1',
      LLM_TIMEOUT_MS: '10000',
      CHAT_STREAM_INTERVAL_MS: '300',
      WORKER_CONCURRENCY: '8',
      SHUTDOWN_TIMEOUT_MS: '5000',
    };
    const apis = ports.api.map(
      (port, i) => new Role(`api-${i + 1}`, entry, 'api', { ...env, API_PORT: String(port) }, port),
    );
    const worker = new Role(
      'worker',
      entry,
      'worker',
      { ...env, WORKER_PORT: String(ports.worker) },
      ports.worker,
    );
    const roles = [...apis, worker];
    await Promise.all(roles.map((r) => r.start()));
    closers.push(() => Promise.all(roles.map((r) => r.stop())));
    await new Api(emulator.token, { apiRoot: emulator.url }).setWebhook(`${balancer.url}/telegram/webhook`, {
      secret_token: WEBHOOK_SECRET,
    });
    log(`running: ${roles.map((r) => `${r.name}:${r.port}`).join(' ')}, balancer ${balancer.url}`);

    const traffic = new Traffic(emulator, {
      users: opts.users,
      firstUserId: FIRST_USER,
      patienceMs: 20_000,
      thinkMs: 300,
    });
    const probes = new Traffic(emulator, {
      users: 0,
      firstUserId: PROBE_USER,
      patienceMs: 2_000,
      thinkMs: 0,
    });
    closers.push(async () => {
      traffic.close();
      probes.close();
    });
    let probeN = 0;
    /** From now until a new question is answered. */
    const recovery = async (since: number): Promise<number | null> => {
      while (Date.now() - since < 60_000) {
        if (await probes.ask(PROBE_USER, `q${PROBE_USER}-${++probeN}`)) return Date.now() - since;
      }
      return null;
    };
    /** A dependency is back: every role must be ready again without being restarted. */
    let restartsNeeded = 0;
    const checkRoles = async () => {
      for (const r of roles) {
        let ready = false;
        for (let i = 0; i < 20 && !ready; i++) {
          ready = r.alive() && (await r.ready());
          if (!ready) await sleep(500);
        }
        if (!ready) {
          restartsNeeded += 1;
          log(`${r.name} did not recover by itself: restarting it`);
          r.kill();
          await r.start();
        }
      }
    };

    // Fault times count from here: the build and start-up are not the run.
    const trafficStarted = Date.now();
    traffic.start();
    const window = new SendWindow();
    const faults: FaultReport[] = [];
    let workerKills = 0;
    for (const fault of [...opts.faults].sort((a, b) => a.at - b.at)) {
      await sleep(Math.max(0, trafficStarted + fault.at - Date.now()));
      if (traffic.report().sent >= opts.maxMessages) break;
      if (!('downMs' in fault)) {
        const target = fault.kind === 'kill-worker' ? worker : (apis[0] as Role);
        log(`kill -9 ${target.name}`);
        if (target === worker) window.add(await sendWindowBuckets(worker));
        target.kill();
        if (fault.kind === 'kill-worker') workerKills += 1;
        await target.start();
        faults.push({ fault: `kill -9 ${target.name}`, recoveryMs: await recovery(Date.now()) });
      } else {
        const server: Restartable = fault.kind === 'stop-redis' ? redis : postgres;
        const name = fault.kind === 'stop-redis' ? 'Redis' : 'PostgreSQL';
        log(`${name} down for ${fault.downMs} ms`);
        await server.stop();
        await sleep(fault.downMs);
        await server.start();
        const back = Date.now();
        const recovered = await recovery(back);
        await checkRoles();
        faults.push({ fault: `${name} down ${fault.downMs / 1000} s`, recoveryMs: recovered });
      }
      log(`recovered: ${JSON.stringify(faults.at(-1))}`);
    }
    const end = trafficStarted + opts.durationMs;
    while (traffic.report().sent < opts.maxMessages && Date.now() < end) await sleep(100);
    await traffic.stop();
    log(`traffic stopped after ${traffic.report().sent} questions; draining`);
    const drainEnd = Date.now() + opts.drainMs;
    while (!traffic.settled() && Date.now() < drainEnd) await sleep(250);
    await sleep(1_000); // a late duplicate would arrive about now

    const report = traffic.report();
    const users = sql`(select ${FIRST_USER}::bigint + g from generate_series(0, ${opts.users - 1}) g)`;
    const [charged, stored, answered] = await Promise.all([
      sql<{
        n: string;
      }>`select coalesce(sum(messages_used), 0) as n from subscriptions where user_id in ${users}`.execute(
        database.db,
      ),
      sql<{ n: string }>`select count(*) as n from messages m join dialogs d on d.id = m.dialog_id
        where d.user_id in ${users} and m.role = 'user'`.execute(database.db),
      sql<{ n: string }>`select count(*) as n from messages m join dialogs d on d.id = m.dialog_id
        where d.user_id in ${users} and m.role = 'user' and m.id <= d.answered_up_to_id`.execute(database.db),
    ]);
    const n = (r: { rows: { n: string }[] }) => Number(r.rows[0]?.n ?? 0);
    window.add(await sendWindowBuckets(worker));
    const warnings: Record<string, number> = {};
    mkdirSync(LOG_DIR, { recursive: true });
    for (const r of roles) {
      writeFileSync(join(LOG_DIR, `${r.name}.log`), r.output());
      for (const m of r.output().matchAll(/\(node:\d+\) (\w+Warning: [^\n]+)/g)) {
        const key = `${r.name}: ${m[1]!.replace(/\d+/g, 'N')}`;
        warnings[key] = (warnings[key] ?? 0) + 1;
      }
    }
    return {
      traffic: report,
      quota: {
        charged: n(charged),
        stored: n(stored),
        answered: n(answered),
        doubleCharged: Math.max(0, n(charged) - n(stored)),
      },
      faults,
      workerKills,
      restartsNeeded,
      sendWindowMs: window.summary(),
      warnings,
      balancer: balancer.stats(),
      durationMs: Date.now() - started,
    };
  } finally {
    await close();
  }
}
