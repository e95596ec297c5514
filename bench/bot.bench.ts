import type { Report } from './run.js';
import { startBenchSystem } from './system.js';

/** /status through the emulator to a separate `vitte api` process in webhook mode: updates handled per second. */
export default async function bot(report: Report): Promise<void> {
  const s = await startBenchSystem('bot', { BOT_RATE_LIMIT_POINTS: '100000' }, ['api']);
  try {
    const users = Array.from({ length: 200 }, (_, i) => ({
      id: 700_000 + i,
      first_name: `B${i}`,
      language_code: 'en',
    }));
    await Promise.all(users.map((user) => s.tg.injectMessage({ user, text: '/start' })));
    await s.tg.waitFor(
      async () => ((await s.tg.stats()).messages_sent >= users.length ? true : undefined),
      'welcomes',
      {
        timeoutMs: 60_000,
      },
    );
    const perUser = 10;
    const total = users.length * perUser;
    const before = (await s.tg.stats()).messages_sent;
    const started = performance.now();
    for (let round = 0; round < perUser; round++) {
      await Promise.all(users.map((user) => s.tg.injectMessage({ user, text: '/status' })));
    }
    await s.tg.waitFor(
      async () => ((await s.tg.stats()).messages_sent - before >= total ? true : undefined),
      `${total} replies`,
      { timeoutMs: 300_000, intervalMs: 100 },
    );
    const seconds = (performance.now() - started) / 1000;
    report(
      'status_updates_per_second',
      total / seconds,
      'updates/s',
      `${total} /status from ${users.length} users; emulator → webhook (40 connections) → vitte api → Postgres/Redis → sendMessage`,
    );
  } finally {
    await s.close();
  }
}
