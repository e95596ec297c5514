import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { createFakeLlm } from '../src/dev/fake-llm/index.js';
import {
  type BenchEnvironment,
  startBenchEnvironment,
  startNullBot,
  startVitteRole,
  type VitteRole,
  type VitteRoleOptions,
  WEBHOOK_PATH,
  WEBHOOK_SECRET,
} from './harness/bench-environment.js';
import type { NodeChild } from './harness/child-process.js';
import { formatSelfTimes, selfTimes } from './harness/cpu-profile.js';
import {
  type ClosedLoopResult,
  runClosedLoop,
  type WebhookPoster,
  webhookPoster,
} from './harness/load-generator.js';
import { type PerUnit, startProcessCounters } from './harness/process-counters.js';
import { chatIteration, registerUsers, statusIteration } from './harness/scenarios.js';
import { createUpdateFactory } from './harness/telegram-updates.js';
import type { Report } from './run.js';

const USERS = [20, 100] as const;
const WARMUP_MS = 2_000;
const MEASURE_MS = 8_000;
/** Sequential phases that count what one update or message sends to PostgreSQL and Redis. */
const COUNT_MS = 3_000;
const PROFILE = process.env.BENCH_PROFILE === '1';
const OUT = resolve(import.meta.dirname, '../.bench');

const updates = createUpdateFactory();
const summary: string[] = [];
const ms = (v: number) => `${v.toFixed(1)} ms`;

type Iteration = Parameters<typeof runClosedLoop>[0]['iteration'];

/** Keep-alive connections to a role's webhook, one per concurrent user. */
const posterFor = (role: VitteRole) =>
  webhookPoster({ url: `${role.url}${WEBHOOK_PATH}`, secret: WEBHOOK_SECRET });

interface Measured extends ClosedLoopResult {
  /** CPU of the watched processes and of this one (load generator, sink, fake LLM), in cores. */
  cores: number;
  benchCores: number;
  /** CPU milliseconds of the watched processes per completed iteration: what load does not blur. */
  cpuMsPerUnit: number;
}

interface LoadOptions {
  warmupMs?: number;
  durationMs?: number;
  /** Processes whose CPU time is measured over the window. */
  watch?: NodeChild[];
  /**
   * Failed iterations are reported by the caller (a chat message left unanswered is a finding);
   * otherwise more than 1 % failed means a broken run, and it stops.
   */
  tolerateErrors?: boolean;
}

async function load(users: number, iteration: Iteration, opts: LoadOptions = {}): Promise<Measured> {
  const { warmupMs = WARMUP_MS, durationMs = MEASURE_MS, watch = [] } = opts;
  const cpu = () => watch.reduce((sum, p) => sum + p.cpuSeconds(), 0);
  let opened = { watched: 0, bench: process.cpuUsage() };
  let used = { watched: 0, bench: 0 };
  const window = {
    open: () => {
      opened = { watched: cpu(), bench: process.cpuUsage() };
    },
    close: () => {
      const bench = process.cpuUsage(opened.bench);
      used = { watched: cpu() - opened.watched, bench: (bench.user + bench.system) / 1e6 };
    },
  };
  const result = await runClosedLoop({ users, warmupMs, durationMs, iteration, window });
  if (!opts.tolerateErrors && result.errors > 0.01 * (result.finished + result.errors))
    throw new Error(
      `${result.errors} of ${result.finished + result.errors} iterations failed: ${result.firstError}`,
    );
  if (result.errors)
    process.stderr.write(`  ${result.errors} failed iterations, first: ${result.firstError}\n`);
  return {
    ...result,
    cores: used.watched / result.seconds,
    benchCores: used.bench / result.seconds,
    cpuMsPerUnit: (1000 * used.watched) / result.completed,
  };
}

const cpuNote = (r: Measured, who: string, unit: string) =>
  `${who} CPU ${r.cores.toFixed(2)} cores (${r.cpuMsPerUnit.toFixed(2)} ms/${unit}), bench process ${r.benchCores.toFixed(2)} cores`;

/** Round trips only from sequential phases: under concurrency, updates sharing a connection merge them. */
function reportCounts(
  report: Report,
  prefix: string,
  unit: string,
  c: PerUnit,
  note: string,
  sequential: boolean,
): void {
  report(`${prefix}_pg_statements`, c.pgStatements, `statements/${unit}`, `${note}; ${c.pgDetail || 'none'}`);
  report(`${prefix}_pg_transactions`, c.pgTransactions, `transactions/${unit}`);
  report(
    `${prefix}_redis_commands`,
    c.redisCommands,
    `commands/${unit}`,
    `${note}; ${c.redisDetail || 'none'}`,
  );
  if (sequential) report(`${prefix}_redis_round_trips`, c.redisRoundTrips, `round trips/${unit}`);
}

async function withRoles<T>(
  env: BenchEnvironment,
  roles: { role: 'api' | 'worker'; opts?: VitteRoleOptions }[],
  fn: (started: VitteRole[], post: WebhookPoster) => Promise<T>,
): Promise<T> {
  const started: VitteRole[] = [];
  let post: WebhookPoster | undefined;
  try {
    for (const { role, opts } of roles) started.push(await startVitteRole(env, role, opts));
    post = posterFor(started[roles.findIndex((r) => r.role === 'api')]!);
    return await fn(started, post);
  } finally {
    post?.close();
    await Promise.all(started.map((p) => p.stop()));
  }
}

/** The null bot at each concurrency: the most this machine and wire path allow. */
async function measureCeiling(env: BenchEnvironment, report: Report) {
  const ceiling = new Map<number, Measured>();
  const nullBot = await startNullBot(env);
  const post = posterFor(nullBot);
  try {
    for (const users of USERS) {
      const r = await load(users, statusIteration(post, updates), { watch: [nullBot] });
      ceiling.set(users, r);
      const note = `null grammY bot on Fastify, no DB/Redis; ${users} closed-loop users, ${r.completed} updates in ${r.seconds} s`;
      report(`ceiling_status_per_second_u${users}`, r.perSecond, 'updates/s', note);
      report(`ceiling_status_p50_u${users}`, r.latencies.latency!.p50, 'ms');
      report(`ceiling_status_p99_u${users}`, r.latencies.latency!.p99, 'ms');
      report(
        `ceiling_status_cpu_ms_u${users}`,
        r.cpuMsPerUnit,
        'cpu ms/update',
        cpuNote(r, 'null bot', 'update'),
      );
    }
  } finally {
    post.close();
    await nullBot.stop();
  }
  return ceiling;
}

/** `vitte api` on PostgreSQL and Redis, the same load, then the ratio to the ceiling. */
async function measureStatus(env: BenchEnvironment, report: Report, ceiling: Map<number, Measured>) {
  await withRoles(env, [{ role: 'api' }], async ([api], post) => {
    await registerUsers(post, updates, Math.max(...USERS));
    summary.push(
      '/status      users  ceiling/s  vitte/s  ratio(≥0.5)  p50 ceiling→vitte  p99 ceiling→vitte  p99×(<3)  cpu ms/update ceiling→vitte',
    );
    for (const users of USERS) {
      const r = await load(users, statusIteration(post, updates), { watch: [api!] });
      const top = ceiling.get(users)!;
      const [lc, lv] = [top.latencies.latency!, r.latencies.latency!];
      report(
        `vitte_status_per_second_u${users}`,
        r.perSecond,
        'updates/s',
        `vitte api (webhook) + PostgreSQL + Redis, warm users; ${users} closed-loop users, ${r.completed} updates in ${r.seconds} s`,
      );
      report(`vitte_status_p50_u${users}`, lv.p50, 'ms');
      report(`vitte_status_p99_u${users}`, lv.p99, 'ms');
      report(
        `vitte_status_cpu_ms_u${users}`,
        r.cpuMsPerUnit,
        'cpu ms/update',
        cpuNote(r, 'vitte api', 'update'),
      );
      report(`status_ratio_u${users}`, r.perSecond / top.perSecond, 'x ceiling', 'target ≥ 0.5');
      report(`status_p99_ratio_u${users}`, lv.p99 / lc.p99, 'x ceiling p99', 'target < 3');
      summary.push(
        `${String(users).padStart(18)}  ${top.perSecond.toFixed(0).padStart(9)}  ${r.perSecond.toFixed(0).padStart(7)}  ${(r.perSecond / top.perSecond).toFixed(2).padStart(11)}  ${`${ms(lc.p50)}→${ms(lv.p50)}`.padStart(17)}  ${`${ms(lc.p99)}→${ms(lv.p99)}`.padStart(17)}  ${(lv.p99 / lc.p99).toFixed(1).padStart(8)}  ${`${top.cpuMsPerUnit.toFixed(2)}→${r.cpuMsPerUnit.toFixed(2)}`.padStart(27)}`,
      );
    }
    const mem = api!.memory();
    report('vitte_api_rss_mb', mem.rssMb, 'MB', `after the ${Math.max(...USERS)}-user load; target < 200`);
    report('vitte_api_peak_rss_mb', mem.peakRssMb, 'MB');
    summary.push(
      `vitte api RSS after the load ${mem.rssMb.toFixed(0)} MB (peak ${mem.peakRssMb.toFixed(0)} MB; < 200)`,
    );
  });
}

/**
 * A second `vitte api` behind counting proxies (kept out of the timed runs: the proxy hop costs CPU
 * and latency): statements and commands per warm /status, one update at a time (so round trips are
 * exact) and with 20 users (so sharing under concurrency shows).
 */
async function countStatus(env: BenchEnvironment, report: Report) {
  const counters = await startProcessCounters(env.databaseUrl, env.redis.url);
  try {
    const opts = { databaseUrl: counters.databaseUrl, redisUrl: counters.redisUrl };
    await withRoles(env, [{ role: 'api', opts }], async (_, post) => {
      await load(1, statusIteration(post, updates), { warmupMs: 0, durationMs: 1_000 });
      for (const users of [1, 20]) {
        const done = counters.mark();
        const r = await load(users, statusIteration(post, updates), { warmupMs: 0, durationMs: COUNT_MS });
        const c = done(r.finished);
        const note = `warm /status, ${users === 1 ? 'one update at a time' : `${users} users`}, ${r.finished} updates`;
        reportCounts(report, `status_u${users}`, 'update', c, note, users === 1);
        if (users === 1) {
          summary.push(
            `warm /status: ${c.pgStatements.toFixed(2)} PG statements (target 0), ${c.redisCommands.toFixed(2)} Redis commands in ${c.redisRoundTrips.toFixed(2)} round trips (target ≤ 2)`,
            `  PG:    ${c.pgDetail || 'none'}`,
            `  Redis: ${c.redisDetail || 'none'}`,
          );
        }
      }
    });
  } finally {
    await counters.close();
  }
}

/** The chat path: `vitte api` + `vitte worker`, an instant fake LLM, users waiting for each answer. */
async function measureChat(env: BenchEnvironment, report: Report, ceiling: Map<number, Measured>) {
  // First token at once, the rest 5 ms apart: room for one draft, nothing to wait for.
  const llm = await createFakeLlm({
    defaultReply: {
      text: 'An instant answer from the fake model, in three pieces.',
      chunkSize: 20,
      chunkDelayMs: 5,
    },
  });
  const chatEnv = { LLM_BASE_URL: llm.url, WORKER_CONCURRENCY: '32', LLM_MAX_CONCURRENCY: '64' };
  try {
    await withRoles(
      env,
      [
        { role: 'worker', opts: { env: chatEnv } },
        { role: 'api', opts: { env: chatEnv } },
      ],
      async ([worker, api], post) => {
        summary.push(
          'chat         users  msgs/s  ratio to /status ceiling(≥0.15)  first draft p50/p99 (<100)  answer p99  cpu ms/msg api+worker',
        );
        const chat = chatIteration(post, updates, env.sink);
        // One user first: the platform's own latency, with no other message to queue behind.
        for (const users of [1, ...USERS]) {
          const before = chat.undrafted;
          const r = await load(users, chat, { watch: [api!, worker!], tolerateErrors: true });
          const undrafted = chat.undrafted - before;
          const { firstDraft, answer } = r.latencies as Record<string, ClosedLoopResult['latencies'][string]>;
          const top = ceiling.get(users);
          const ratio = top ? r.perSecond / top.perSecond : undefined;
          report(
            `chat_messages_per_second_u${users}`,
            r.perSecond,
            'msg/s',
            `api + worker (WORKER_CONCURRENCY 32), instant fake LLM; ${users} users each waiting for the answer; ${r.completed} answers in ${r.seconds} s`,
          );
          if (ratio !== undefined)
            report(`chat_ratio_u${users}`, ratio, 'x /status ceiling', 'target ≥ 0.15');
          report(`chat_unanswered_u${users}`, r.errors, 'messages', r.firstError ?? 'every message answered');
          report(
            `chat_cpu_ms_u${users}`,
            r.cpuMsPerUnit,
            'cpu ms/message',
            cpuNote(r, 'api + worker', 'message'),
          );
          report(
            `chat_first_draft_p50_u${users}`,
            firstDraft!.p50,
            'ms',
            `webhook post → first sendMessageDraft at the sink${undrafted ? `; ${undrafted} answers had no draft (their answer time counts)` : ''}`,
          );
          report(`chat_first_draft_p99_u${users}`, firstDraft!.p99, 'ms', 'target < 100');
          report(`chat_answer_p50_u${users}`, answer!.p50, 'ms', 'webhook post → final sendMessage');
          report(`chat_answer_p99_u${users}`, answer!.p99, 'ms');
          summary.push(
            `${String(users).padStart(18)}  ${r.perSecond.toFixed(0).padStart(6)}  ${(ratio?.toFixed(2) ?? '-').padStart(32)}  ${`${ms(firstDraft!.p50)} / ${ms(firstDraft!.p99)}`.padStart(26)}  ${ms(answer!.p99).padStart(10)}  ${r.cpuMsPerUnit.toFixed(2).padStart(21)}`,
          );
        }
        report('chat_api_rss_mb', api!.memory().rssMb, 'MB', 'after the chat load');
        report('chat_worker_rss_mb', worker!.memory().rssMb, 'MB', 'after the chat load');
      },
    );
    await countChat(env, report, chatEnv);
  } finally {
    await llm.close();
  }
}

/** Statements and commands per chat message, api side and worker side, one message at a time. */
async function countChat(env: BenchEnvironment, report: Report, chatEnv: Record<string, string>) {
  const apiCounters = await startProcessCounters(env.databaseUrl, env.redis.url);
  const workerCounters = await startProcessCounters(env.databaseUrl, env.redis.url);
  const via = (c: typeof apiCounters) => ({ databaseUrl: c.databaseUrl, redisUrl: c.redisUrl, env: chatEnv });
  try {
    await withRoles(
      env,
      [
        { role: 'worker', opts: via(workerCounters) },
        { role: 'api', opts: via(apiCounters) },
      ],
      async (_, post) => {
        const chat = chatIteration(post, updates, env.sink);
        await load(1, chat, { warmupMs: 0, durationMs: 1_000, tolerateErrors: true });
        const [apiDone, workerDone] = [apiCounters.mark(), workerCounters.mark()];
        const r = await load(1, chat, { warmupMs: 0, durationMs: COUNT_MS, tolerateErrors: true });
        const unanswered = r.errors ? `; ${r.errors} failed: ${r.firstError}` : '';
        const note = `chat message, one at a time, ${r.finished} messages${unanswered}`;
        const [a, w] = [apiDone(r.finished), workerDone(r.finished)];
        reportCounts(report, 'chat_api', 'message', a, `${note}, api side`, true);
        reportCounts(report, 'chat_worker', 'message', w, `${note}, worker side`, true);
        summary.push(
          `chat message, api side: ${a.pgStatements.toFixed(2)} PG statements (target ≤ 3), ${a.redisCommands.toFixed(2)} Redis commands in ${a.redisRoundTrips.toFixed(2)} round trips`,
          `  PG:    ${a.pgDetail}`,
          `  Redis: ${a.redisDetail}`,
          `chat message, worker side: ${w.pgStatements.toFixed(2)} PG statements, ${w.redisCommands.toFixed(2)} Redis commands in ${w.redisRoundTrips.toFixed(2)} round trips`,
          `  PG:    ${w.pgDetail}`,
          `  Redis: ${w.redisDetail}`,
        );
      },
    );
  } finally {
    await Promise.all([apiCounters.close(), workerCounters.close()]);
  }
}

/** BENCH_PROFILE=1: a CPU profile of `vitte api` under the 100-user /status load, by self time. */
async function profileStatus(env: BenchEnvironment) {
  const dir = join(OUT, 'profiles');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const users = Math.max(...USERS);
  let window: { fromUs: number; toUs: number } | undefined;
  let measured: Measured | undefined;
  await withRoles(env, [{ role: 'api', opts: { cpuProfileDir: dir } }], async ([api], post) => {
    await load(users, statusIteration(post, updates), { warmupMs: 0, durationMs: WARMUP_MS });
    const fromUs = Number(process.hrtime.bigint() / 1000n);
    measured = await load(users, statusIteration(post, updates), { warmupMs: 0, watch: [api!] });
    window = { fromUs, toUs: Number(process.hrtime.bigint() / 1000n) };
  });
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file || !measured) throw new Error(`vitte api wrote no CPU profile into ${dir}`);
  const text = [
    `vitte api, /status at ${users} closed-loop users for ${MEASURE_MS / 1000} s, ${measured.perSecond.toFixed(0)} updates/s, ${measured.cpuMsPerUnit.toFixed(2)} cpu ms/update; load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores`,
    `profile: ${join(dir, file)} (open it in Chrome DevTools for call trees)`,
    `The process used ${measured.cores.toFixed(2)} cores. V8 samples on the wall clock: time the thread waited for a`,
    'CPU is charged to what it was doing when descheduled (mostly system calls such as writev), so on a busy',
    'machine those entries are inflated; JS functions compare fairly with each other.',
    formatSelfTimes(selfTimes(join(dir, file), window)),
    '',
  ].join('\n');
  writeFileSync(join(OUT, 'profile-status.txt'), text);
  process.stderr.write(`\n${text}(also in .bench/profile-status.txt)\n`);
}

/**
 * Issue 13: the same wire path (closed-loop users posting webhooks with the secret, a Bot API sink
 * answering at once) for a null grammY bot — the ceiling — and for `vitte api`; then the chat path
 * through `vitte worker`. Ratios, latencies, what each update costs in PostgreSQL and Redis, memory.
 */
export default async function bot(report: Report): Promise<void> {
  const machine = `${cpus().length} cores shared with whatever else runs on this host`;
  report('machine_load_1m_start', loadavg()[0]!, 'load average', machine);
  const env = await startBenchEnvironment('bot');
  try {
    const ceiling = await measureCeiling(env, report);
    await measureStatus(env, report, ceiling);
    await countStatus(env, report);
    await measureChat(env, report, ceiling);
    if (PROFILE) await profileStatus(env);
    report('machine_load_1m_end', loadavg()[0]!, 'load average', machine);
    summary.push(`load average at the end ${loadavg()[0]!.toFixed(1)} (${machine})`);
    process.stderr.write(`\n${summary.join('\n')}\n`);
  } finally {
    await env.close();
  }
}
