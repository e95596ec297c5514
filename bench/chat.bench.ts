import { createFakeLlm } from '../src/dev/fake-llm/index.js';
import { startSystem } from '../test/helpers/system.js';
import type { Report } from './run.js';
import { percentile } from './stats.js';

/**
 * The chat path end to end: emulator → webhook → handler (quota, store, enqueue) → BullMQ → worker →
 * instant fake LLM → drafts and the final message at the emulator. Reports messages/s and the time the
 * platform adds before the first draft (the LLM answers at once, so this is all ours).
 */
export default async function chat(report: Report): Promise<void> {
  const llm = await createFakeLlm({
    defaultReply: { text: 'Short instant answer from the fake model.', chunkSize: 64 },
  });
  const s = await startSystem({
    mode: 'webhook',
    redis: true,
    label: 'bench_chat',
    env: {
      LLM_BASE_URL: llm.url,
      BOT_RATE_LIMIT_POINTS: '100000',
      WORKER_CONCURRENCY: '16',
      LLM_MAX_CONCURRENCY: '64',
      CHAT_STREAM_INTERVAL_MS: '100',
    },
  });
  try {
    const users = Array.from({ length: 100 }, (_, i) => ({
      id: 800_000 + i,
      first_name: `C${i}`,
      language_code: 'en',
    }));
    await s.app.settings.set('plans', {
      free: { messages_limit: 100_000, images_limit: 0 },
      premium: { messages_limit: 100_000, images_limit: 0 },
    });
    for (const user of users) await s.app.users.register(user);

    // Latency: one message at a time, time from injection to the first draft call for that chat.
    const latencies: number[] = [];
    for (let i = 0; i < 60; i++) {
      const user = users[i % users.length]!;
      const injectedAt = Date.now();
      await s.tg.injectMessage({ user, text: `latency probe ${i}` });
      const [draft] = await s.tg.waitForCalls(
        { method: 'sendMessageDraft', chatId: user.id, since: injectedAt },
        1,
        {
          timeoutMs: 10_000,
          intervalMs: 2,
        },
      );
      latencies.push(draft!.at - injectedAt);
      await s.tg.waitForCalls({ method: 'sendMessage', chatId: user.id, since: injectedAt }, 1, {
        intervalMs: 5,
      });
    }
    report(
      'time_to_first_draft_p50',
      percentile(latencies, 50),
      'ms',
      'inject → first sendMessageDraft, instant LLM',
    );
    report('time_to_first_draft_p99', percentile(latencies, 99), 'ms');

    // Throughput: every user sends 5 messages (spaced so each is its own generation).
    const before = (await s.tg.stats()).calls_by_method.sendMessage ?? 0;
    const started = performance.now();
    const rounds = 5;
    for (let r = 0; r < rounds; r++) {
      await Promise.all(users.map((user) => s.tg.injectMessage({ user, text: `throughput ${r}` })));
      await s.tg.waitFor(
        async () =>
          ((await s.tg.stats()).calls_by_method.sendMessage ?? 0) - before >= (r + 1) * users.length
            ? true
            : undefined,
        `round ${r}`,
        { timeoutMs: 120_000, intervalMs: 20 },
      );
    }
    const seconds = (performance.now() - started) / 1000;
    report(
      'chat_messages_per_second',
      (rounds * users.length) / seconds,
      'msg/s',
      `${rounds * users.length} messages, ${users.length} users, BullMQ`,
    );
  } finally {
    await s.close();
    await llm.close();
  }
}
