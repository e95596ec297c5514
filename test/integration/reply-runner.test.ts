import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeLlm } from '../../src/dev/fake-llm/index.js';
import { chatJobs } from '../../src/domain/chat/chat.jobs.js';
import { createChatMetrics } from '../../src/domain/chat/chat.metrics.js';
import { ChatRepository } from '../../src/domain/chat/chat.repository.js';
import { Generations } from '../../src/domain/chat/generations.js';
import { LEASE_MS } from '../../src/domain/chat/reply-lease.js';
import type { DeliveryProgress, ReplyOutput } from '../../src/domain/chat/reply-output.js';
import { ReplyRunner, type ReplyRunnerDeps } from '../../src/domain/chat/reply-runner.js';
import { type JobContext, JobDeferredError } from '../../src/platform/queue/index.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { silentLogger } from '../helpers/db.js';
import { createUser } from '../helpers/factories.js';

/**
 * The reply runner against a real database and the fake OpenAI server, with a recording output in
 * place of Telegram (the output is the domain's port; its Telegram side is tested end to end).
 */
describe('the reply runner', () => {
  let t: TestApp;
  let llm: Awaited<ReturnType<typeof createFakeLlm>>;
  let repo: ChatRepository;
  beforeAll(async () => {
    llm = await createFakeLlm();
    t = await createTestApp({ LLM_BASE_URL: llm.url }, { label: 'reply_runner' });
    repo = new ChatRepository(t.app.tx);
  });
  afterAll(async () => {
    await t?.close();
    await llm?.close();
  });

  /** An output that records what it delivers and runs `onDeliver` once the first answer is sent. */
  function recordingOutput(delivered: string[], onDeliver: () => Promise<void>): ReplyOutput {
    return {
      typing: async () => {},
      progress: () => {},
      settle: async () => undefined,
      deliver: async (text: string, progress: DeliveryProgress, onSent) => {
        delivered.push(text);
        await onSent({ ...progress, sent: [delivered.length] });
        await onDeliver();
      },
      fail: async () => {},
    };
  }

  it('a job that reaches its bounds with questions left hands the dialog on to a new job', async () => {
    const user = await createUser(t.app);
    const dialog = await t.app.dialogs.create(user.id, 'busy');
    await repo.insertMessage({ dialogId: dialog.id, role: 'user', content: 'first' });
    llm.enqueue('First answer.');
    const delivered: string[] = [];
    const handedOn: number[] = [];
    let arrived = false;
    const deps: ReplyRunnerDeps = {
      repo,
      tx: t.app.tx,
      users: t.app.users,
      subscriptions: t.app.subscriptions,
      settings: t.app.settings,
      llm: t.app.llm,
      generations: new Generations(t.app.bus),
      // A question arrives while the job still holds the dialog (its own job saw the lease and left).
      output: () =>
        recordingOutput(delivered, async () => {
          if (arrived) return;
          arrived = true;
          await repo.insertMessage({ dialogId: dialog.id, role: 'user', content: 'second' });
        }),
      enqueueSummary: async () => {},
      enqueueReply: async (id) => {
        handedOn.push(id);
      },
      metrics: createChatMetrics(t.app.metrics),
      logger: silentLogger,
      contextTokens: t.app.config.LLM_CONTEXT_TOKENS,
      maxAnswerTokens: t.app.config.LLM_MAX_TOKENS,
      bounds: { rounds: 1, passes: 1 },
    };
    await new ReplyRunner(deps, dialog.id, false, undefined).run();
    expect(delivered).toEqual(['First answer.']);
    // The second question is not left to the sweeper: a new job takes it.
    expect(handedOn).toEqual([dialog.id]);

    // That job answers it, and finding nothing more, hands nothing on.
    llm.enqueue('Second answer.');
    await new ReplyRunner(deps, dialog.id, false, undefined).run();
    expect(delivered).toEqual(['First answer.', 'Second answer.']);
    expect(handedOn).toEqual([dialog.id]);
  });

  it("a job that finds another worker's lease on the dialog comes back when it runs out (the holder may be dead)", async () => {
    const user = await createUser(t.app);
    const dialog = await t.app.dialogs.create(user.id, 'orphaned');
    await repo.insertMessage({ dialogId: dialog.id, role: 'user', content: 'anyone there?' });
    // A worker took the dialog and was killed: its lease stays until it runs out.
    expect(await repo.claimReply(dialog.id, randomUUID(), LEASE_MS)).toMatchObject({
      dialog: { id: dialog.id },
    });
    const deferred: number[] = [];
    const job = chatJobs(t.app.chat, t.app.summaries)['chat.reply'];
    const context = (): JobContext => ({
      id: 'reply',
      name: 'chat.reply',
      queue: 'chat',
      attempt: 1,
      maxAttempts: 3,
      signal: new AbortController().signal,
      logger: silentLogger,
      rateLimited: () => {
        throw new Error('not expected');
      },
      defer: (ms: number) => {
        deferred.push(ms);
        throw new JobDeferredError(ms, 'deferred');
      },
    });
    await expect(job({ dialogId: dialog.id }, context())).rejects.toBeInstanceOf(JobDeferredError);
    expect(deferred[0]).toBeGreaterThan(LEASE_MS - 5_000);
    expect(deferred[0]).toBeLessThanOrEqual(LEASE_MS + 1_000);

    // A job for a dialog deleted meanwhile (twice: a retry too) ends; it does not keep coming back.
    await t.app.db.deleteFrom('dialogs').where('id', '=', dialog.id).execute();
    for (let run = 0; run < 2; run++) await job({ dialogId: dialog.id }, context());
    expect(deferred).toHaveLength(1);
  });
});
