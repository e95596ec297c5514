/**
 * Broadcast throughput: 10,000 recipients through the Bot API emulator enforcing Telegram's global
 * flood limit (30 msg/s) with BROADCAST_RATE_PER_SEC=25. Two real `vitte worker` processes share
 * the delivery queue when Redis is there (the limit is global, not per process); without Redis one
 * in-process worker with the in-memory queue runs it. Reports the achieved rate against the
 * configured one (target ≥ 0.95) and the 429s Telegram had to send (target 0).
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import { type App, createApp, requireTelegram } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createBotApiEmulator } from '../src/dev/bot-api-emulator/index.js';
import { migrateUp } from '../src/platform/db/migrator.js';
import { startWorker } from '../src/worker/index.js';
import { createTestDatabase, silentLogger } from '../test/helpers/db.js';
import { type RunningProcess, startVitte } from '../test/helpers/process.js';
import { probeServices, TEST_REDIS_URL } from '../test/helpers/services.js';
import type { Report } from './run.js';

/** BENCH_BROADCAST_RECIPIENTS overrides it for a quick run. */
const RECIPIENTS = Number(process.env.BENCH_BROADCAST_RECIPIENTS ?? 10_000);
const RATE = 25;
const TELEGRAM_LIMIT = 30;
const WORKER_PROCESSES = 2;
const FIRST_ID = 1_000_000;

export default async function broadcastBench(report: Report): Promise<void> {
  const found = await probeServices();
  if (!found.postgres) {
    process.stderr.write('broadcast bench skipped: it needs Postgres\n');
    return;
  }
  process.env.VITTE_TEST_HAS_POSTGRES = '1';
  const useRedis = found.redis;
  const prefix = `vitte-bench-${randomUUID().slice(0, 8)}`;
  const emulator = await createBotApiEmulator({ flood: { globalPerSecond: TELEGRAM_LIMIT } });
  const testDb = await createTestDatabase('bench_broadcast');
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    DATABASE_URL: testDb.url!,
    DATA_DIR: testDb.dataDir,
    BOT_TOKEN: emulator.token,
    TELEGRAM_API_ROOT: emulator.url,
    API_PORT: '0',
    BROADCAST_RATE_PER_SEC: String(RATE),
    ...(useRedis ? { REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: prefix } : {}),
  };
  const control: App = createApp(loadConfig(env), { logger: silentLogger, role: 'bench' });
  const workers: RunningProcess[] = [];
  try {
    await migrateUp(control.db, silentLogger);
    await sql`insert into users (id, first_name)
      select g, 'Bench' from generate_series(${FIRST_ID}::bigint, ${FIRST_ID + RECIPIENTS - 1}::bigint) g`.execute(
      control.db,
    );

    if (useRedis) {
      for (let i = 0; i < WORKER_PROCESSES; i++) {
        const w = startVitte(['worker'], { ...env, LOG_LEVEL: 'info' });
        workers.push(w);
        await w.waitForLog((l) => l.msg === 'worker started', 60_000);
      }
    } else {
      await startWorker(requireTelegram(control, 'worker'));
    }
    process.stderr.write(
      `  ${RECIPIENTS} recipients, limit ${RATE}/s, Telegram ${TELEGRAM_LIMIT}/s, ${useRedis ? `${WORKER_PROCESSES} worker processes (BullMQ)` : '1 in-process worker (inline queue)'}\n`,
    );

    const b = await control.broadcasts.create({
      text: 'bench <b>message</b>',
      audience: { kind: 'all' },
      createdBy: 'bench',
    });
    const started = performance.now();
    await control.broadcasts.start(b.id);
    let last = 0;
    for (;;) {
      const p = await control.broadcasts.progress(b.id);
      const done = p.total > 0 && p.pending === 0 && p.sending === 0;
      if (p.sent >= last + 1_000 || done) {
        last = p.sent;
        process.stderr.write(
          `  sent ${p.sent}/${RECIPIENTS} after ${((performance.now() - started) / 1000).toFixed(0)} s\n`,
        );
      }
      if (done) break;
      await new Promise((r) => setTimeout(r, 1_000));
    }
    const wallS = (performance.now() - started) / 1000;

    const sends = emulator.core.calls.list({ method: 'sendMessage' });
    const ok = sends.filter((c) => c.ok);
    const perChat = new Map<number, number>();
    for (const c of ok) perChat.set(c.chat_id ?? 0, (perChat.get(c.chat_id ?? 0) ?? 0) + 1);
    const first = ok[0]?.at ?? 0;
    const lastAt = ok.at(-1)?.at ?? 0;
    const achieved = ok.length > 1 ? ((ok.length - 1) * 1000) / (lastAt - first) : 0;
    const stats = await emulator.client.stats();

    report(
      'achieved_rate',
      achieved,
      'msg/s',
      `first to last delivery as the emulator saw them (limit ${RATE})`,
    );
    report('rate_ratio', achieved / RATE, 'x', 'achieved ÷ configured; target ≥ 0.95');
    report(
      'http_429',
      stats.too_many_requests,
      'count',
      `429s from Telegram's ${TELEGRAM_LIMIT}/s flood control; target 0`,
    );
    report('wall_rate', RECIPIENTS / wallS, 'msg/s', 'start() to completion, including choosing recipients');
    report('delivered', perChat.size, 'users', `of ${RECIPIENTS}`);
    report('duplicates', [...perChat.values()].filter((n) => n > 1).length, 'users', 'target 0');
  } finally {
    for (const w of workers) await w.stop('SIGTERM');
    await control.close();
    await emulator.close();
    await testDb.drop();
    if (useRedis) {
      const redis = new Redis(TEST_REDIS_URL);
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    }
  }
}
