import { createFakeLlm } from '../src/dev/fake-llm/index.js';
import type { Report } from './run.js';
import { percentile } from './stats.js';
import { startBenchSystem } from './system.js';

/**
 * The chat path end to end: emulator → webhook → `vitte api` (quota, store, enqueue) → BullMQ →
 * `vitte worker` → instant fake LLM → drafts and the final message at the emulator. Reports
 * messages/s and the time the platform adds before the first draft (the LLM answers at once).
 */
export default async function chat(report: Report): Promise<void> {
  const llm = await createFakeLlm({
    defaultReply: { text: 'Short instant answer from the fake model.', chunkSize: 64 },
  });
  const s = await startBenchSystem('chat', {
    LLM_BASE_URL: llm.url,
    BOT_RATE_LIMIT_POINTS: '100000',
    WORKER_CONCURRENCY: '16',
    LLM_MAX_CONCURRENCY: '64',
    CHAT_STREAM_INTERVAL_MS: '100',
  });
  try {
    const users = Array.from({ length: 100 }, (_, i) => ({
      id: 800_000 + i,
      first_name: `C${i}`,
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
    await s.db.updateTable('subscriptions').set({ messages_limit: 100_000 }).execute();

    // Latency: one message at a time, from injection to the first draft call for that chat. The first
    // token comes at once and the rest follow 20 ms apart, so the draft is all platform time.
    const latencies: number[] = [];
    for (let i = 0; i < 60; i++) {
      const user = users[i % users.length]!;
      llm.enqueue({
        text: 'A streamed answer in a few pieces, each one twenty milliseconds apart.',
        chunkSize: 12,
        chunkDelayMs: 20,
      });
      const since = (await s.tg.stats()).total_calls;
      const injectedAt = Date.now();
      await s.tg.injectMessage({ user, text: `latency probe ${i}` });
      const [draft] = await s.tg.waitForCalls({ method: 'sendMessageDraft', chatId: user.id, since }, 1, {
        timeoutMs: 10_000,
        intervalMs: 2,
      });
      latencies.push(draft!.at - injectedAt);
      await s.tg.waitForCalls({ method: 'sendMessage', chatId: user.id, since }, 1, {
        intervalMs: 5,
      });
    }
    report(
      'time_to_first_draft_p50',
      percentile(latencies, 50),
      'ms',
      'inject → webhook → queue → worker → LLM first token → sendMessageDraft',
    );
    report('time_to_first_draft_p99', percentile(latencies, 99), 'ms');

    // Throughput: every user sends 5 messages, one round after another.
    const before = (await s.tg.stats()).messages_sent;
    const started = performance.now();
    const rounds = 5;
    for (let r = 0; r < rounds; r++) {
      await Promise.all(users.map((user) => s.tg.injectMessage({ user, text: `throughput ${r}` })));
      await s.tg.waitFor(
        async () =>
          (await s.tg.stats()).messages_sent - before >= (r + 1) * users.length ? true : undefined,
        `round ${r}`,
        { timeoutMs: 120_000, intervalMs: 20 },
      );
    }
    const seconds = (performance.now() - started) / 1000;
    report(
      'chat_messages_per_second',
      (rounds * users.length) / seconds,
      'msg/s',
      `${rounds * users.length} messages from ${users.length} users: api + worker processes, BullMQ`,
    );
  } finally {
    await s.close();
    await llm.close();
  }
}
