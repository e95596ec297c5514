import { startSystem } from '../test/helpers/system.js';
import type { Report } from './run.js';

/** /status through the emulator in webhook mode: updates handled per second, end to end. */
export default async function bot(report: Report): Promise<void> {
  const s = await startSystem({
    mode: 'webhook',
    redis: true,
    label: 'bench_bot',
    env: { BOT_RATE_LIMIT_POINTS: '100000' },
  });
  try {
    const users = Array.from({ length: 200 }, (_, i) => ({
      id: 700_000 + i,
      first_name: `B${i}`,
      language_code: 'en',
    }));
    for (const user of users) await s.app.users.register(user);
    const perUser = 10;
    const total = users.length * perUser;
    const started = performance.now();
    const injections: Promise<unknown>[] = [];
    for (let round = 0; round < perUser; round++) {
      for (const user of users) injections.push(s.tg.injectMessage({ user, text: '/status' }));
    }
    await Promise.all(injections);
    await s.tg.waitFor(
      async () => (((await s.tg.stats()).calls_by_method?.sendMessage ?? 0) >= total ? true : undefined),
      `${total} replies`,
      { timeoutMs: 300_000, intervalMs: 200 },
    );
    const seconds = (performance.now() - started) / 1000;
    report(
      'status_updates_per_second',
      total / seconds,
      'updates/s',
      `${total} /status from ${users.length} users, webhook, Postgres + Redis`,
    );
  } finally {
    await s.close();
  }
}
