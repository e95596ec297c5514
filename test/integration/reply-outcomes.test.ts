import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeLlm } from '../../src/dev/fake-llm/index.js';
import { type ChatMetrics, createChatMetrics } from '../../src/domain/chat/chat.metrics.js';
import { ChatRepository } from '../../src/domain/chat/chat.repository.js';
import { Generations } from '../../src/domain/chat/generations.js';
import {
  ReplyDeliveryError,
  type ReplyFailure,
  type ReplyOutput,
} from '../../src/domain/chat/reply-output.js';
import { ReplyRunner, type ReplyRunnerDeps } from '../../src/domain/chat/reply-runner.js';
import { LlmCancelledError, LlmRequestError } from '../../src/integrations/llm/llm-client.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { silentLogger } from '../helpers/db.js';
import { createUser } from '../helpers/factories.js';

type Llm = ReplyRunnerDeps['llm'];

/**
 * How a reply ends, on a real database with a recording output in place of Telegram: quota given
 * back exactly once and only into the period it was taken in, however many runners reach the same
 * questions (a retried job, a lease lost and taken over); and no generation left registered.
 */
describe('reply outcomes', () => {
  let t: TestApp;
  let fakeLlm: Awaited<ReturnType<typeof createFakeLlm>>;
  let repo: ChatRepository;
  let generations: Generations;
  let metrics: ChatMetrics;
  let telegramId = 0;
  beforeAll(async () => {
    fakeLlm = await createFakeLlm();
    t = await createTestApp({ LLM_BASE_URL: fakeLlm.url }, { label: 'reply_outcomes' });
    repo = new ChatRepository(t.app.tx);
    generations = new Generations(t.app.bus);
    metrics = createChatMetrics(t.app.metrics);
  });
  afterAll(async () => {
    await t?.close();
    await fakeLlm?.close();
  });

  /** A question stored in the statement of its quota take, as the chat's intake stores it. */
  async function ask(userId: number, dialogId: number): Promise<void> {
    telegramId += 1;
    const q = { userId, chatId: userId, text: `question ${telegramId}`, telegramMessageId: telegramId };
    const id = await t.app.subscriptions.takeMessageWith(userId, (db) => repo.storeQuestion(db, dialogId, q));
    expect(id).toBeTypeOf('number');
  }

  const used = async (userId: number) => (await t.app.subscriptions.get(userId)).messages_used;

  /** Another job takes the dialog over, as after this one stalled past its lease. */
  async function takeOver(dialogId: number): Promise<void> {
    await t.app.db
      .updateTable('dialogs')
      .set({ reply_token: randomUUID(), reply_until: new Date(Date.now() + 60_000) })
      .where('id', '=', dialogId)
      .execute();
  }

  /** That job died: its lease has run out. */
  async function expireLease(dialogId: number): Promise<void> {
    await t.app.db
      .updateTable('dialogs')
      .set({ reply_until: new Date(Date.now() - 1_000) })
      .where('id', '=', dialogId)
      .execute();
  }

  /** An output that records answers and failure notices; `deliver` may be replaced. */
  function recorder(deliver?: ReplyOutput['deliver']) {
    const seen = { delivered: [] as string[], notices: [] as ReplyFailure[] };
    const output: ReplyOutput = {
      typing: async () => {},
      progress: () => {},
      settle: async () => undefined,
      deliver:
        deliver ??
        (async (text, progress, onSent) => {
          seen.delivered.push(text);
          await onSent({ ...progress, sent: [seen.delivered.length] });
        }),
      fail: async (reason) => {
        seen.notices.push(reason);
      },
    };
    return { seen, output };
  }

  function runner(
    dialogId: number,
    parts: { llm?: Llm; output: ReplyOutput; signal?: AbortSignal },
  ): ReplyRunner {
    const deps: ReplyRunnerDeps = {
      tx: t.app.tx,
      repo,
      users: t.app.users,
      subscriptions: t.app.subscriptions,
      settings: t.app.settings,
      llm: parts.llm ?? t.app.llm,
      generations,
      output: () => parts.output,
      enqueueSummary: async () => {},
      enqueueReply: async () => {},
      metrics,
      logger: silentLogger,
      contextTokens: t.app.config.LLM_CONTEXT_TOKENS,
      maxAnswerTokens: t.app.config.LLM_MAX_TOKENS,
    };
    return new ReplyRunner(deps, dialogId, false, parts.signal);
  }

  /** A provider that fails, after `before` (a takeover, a stop …) has happened. */
  const failingLlm = (before: () => Promise<void> = async () => {}): Llm => ({
    stream: async () => {
      await before();
      throw new LlmRequestError('the provider is down', 503);
    },
  });

  /** A user who has used `units` messages already (answered long ago), with a dialog. */
  async function userWithDialog(units: number) {
    const user = await createUser(t.app);
    for (let i = 0; i < units; i++) expect((await t.app.subscriptions.takeMessage(user.id)).ok).toBe(true);
    const dialog = await t.app.dialogs.create(user.id, 'outcomes');
    return { userId: user.id, dialogId: dialog.id };
  }

  it('a reply given up on refunds its question once, though the first runner to fail had lost the lease', async () => {
    const { userId, dialogId } = await userWithDialog(3);
    await ask(userId, dialogId);
    expect(await used(userId)).toBe(4);

    // The first job stalls past its lease, another takes the dialog over, then the provider fails
    // for the first: its write is fenced off, and so is its refund and its notice.
    const first = recorder();
    await runner(dialogId, { llm: failingLlm(() => takeOver(dialogId)), output: first.output }).run();
    expect(await used(userId)).toBe(4);
    expect(first.seen.notices).toEqual([]);

    // The job that took over dies too; the next one fails for the provider and gives the unit back…
    await expireLease(dialogId);
    const second = recorder();
    await runner(dialogId, { llm: failingLlm(), output: second.output }).run();
    expect(await used(userId)).toBe(3);
    expect(second.seen.notices).toEqual(['failed']);

    // …once: a retry of that job finds the question answered.
    const retry = recorder();
    await runner(dialogId, { llm: failingLlm(), output: retry.output }).run();
    expect(await used(userId)).toBe(3);
    expect(retry.seen.notices).toEqual([]);
    expect((await t.app.dialogs.find(dialogId))?.reply_token).toBeNull();
  });

  it('an answer that could not be delivered refunds its question once, whichever runner gives up last', async () => {
    const { userId, dialogId } = await userWithDialog(3);
    await ask(userId, dialogId);
    const chatGone = () => new ReplyDeliveryError('Bad Request: chat not found', true, false);

    // Stored, then taken over while Telegram refuses the first part: this runner refunds nothing.
    fakeLlm.enqueue('An answer nobody will read.');
    const first = recorder(async () => {
      await takeOver(dialogId);
      throw chatGone();
    });
    await runner(dialogId, { output: first.output }).run();
    expect(await used(userId)).toBe(4);
    expect(first.seen.notices).toEqual([]);

    // The runner after it resumes the stored answer, is refused as well, and refunds.
    await expireLease(dialogId);
    const second = recorder(async () => {
      throw chatGone();
    });
    await runner(dialogId, { output: second.output }).run();
    expect(await used(userId)).toBe(3);
    expect(second.seen.notices).toEqual(['failed']);

    const retry = recorder();
    await runner(dialogId, { output: retry.output }).run();
    expect(await used(userId)).toBe(3);
    expect([retry.seen.delivered, retry.seen.notices]).toEqual([[], []]);
    expect(fakeLlm.requests()).toHaveLength(1);
  });

  it('a refund gives back no unit of an earlier quota period', async () => {
    const { userId, dialogId } = await userWithDialog(0);
    await ask(userId, dialogId);
    // The period turns over while the question waits; the new period is used on.
    await t.app.subscriptions.resetQuota(userId);
    for (let i = 0; i < 2; i++) expect((await t.app.subscriptions.takeMessage(userId)).ok).toBe(true);
    await ask(userId, dialogId);
    expect(await used(userId)).toBe(3);

    // Both questions are given up on together: only the one taken in this period comes back.
    for (let run = 0; run < 2; run++) {
      await runner(dialogId, { llm: failingLlm(), output: recorder().output }).run();
      expect(await used(userId)).toBe(2);
    }
  });

  it('every way a reply ends leaves no generation registered', async () => {
    const { userId, dialogId } = await userWithDialog(0);
    const until = (signal: AbortSignal) =>
      new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        else signal.addEventListener('abort', () => resolve(), { once: true });
      });
    const stopped: Llm = {
      stream: async (req) => {
        await generations.stop(dialogId);
        await until(req.signal as AbortSignal);
        throw new LlmCancelledError('cancelled');
      },
    };
    const outcomes: Record<string, () => Promise<unknown>> = {
      answered: () => runner(dialogId, { output: recorder().output }).run(),
      failed: () => runner(dialogId, { llm: failingLlm(), output: recorder().output }).run(),
      'lease lost': async () => {
        const lost: Llm = {
          stream: async (req) => {
            await takeOver(dialogId);
            generations.abort(dialogId, new Error('reply lease lost'));
            await until(req.signal as AbortSignal);
            throw new LlmCancelledError('cancelled');
          },
        };
        await runner(dialogId, { llm: lost, output: recorder().output }).run();
        await expireLease(dialogId);
        // What the job that took over left: the question is still to answer.
        await runner(dialogId, { output: recorder().output }).run();
      },
      stopped: () => runner(dialogId, { llm: stopped, output: recorder().output }).run(),
      'shut down': async () => {
        const job = new AbortController();
        const aborted: Llm = {
          stream: async () => {
            job.abort(new Error('shutting down'));
            throw new LlmCancelledError('cancelled');
          },
        };
        await expect(
          runner(dialogId, { llm: aborted, output: recorder().output, signal: job.signal }).run(),
        ).rejects.toThrow();
        // The retry answers.
        await runner(dialogId, { output: recorder().output }).run();
      },
    };
    for (let n = 0; n < 3; n++) {
      for (const [outcome, reply] of Object.entries(outcomes)) {
        await ask(userId, dialogId);
        await reply();
        expect({ outcome, registered: generations.size }).toEqual({ outcome, registered: 0 });
        const dialog = await t.app.dialogs.find(dialogId);
        expect({ outcome, waiting: dialog!.last_user_message_id - dialog!.answered_up_to_id }).toEqual({
          outcome,
          waiting: 0,
        });
      }
    }
  });

  it('a generation that ends after another took its dialog over in the same process leaves that one registered', () => {
    const registry = new Generations(t.app.bus);
    const stale = registry.start(42, undefined);
    // The lease was lost and the dialog taken over by a job of this same process.
    const current = registry.start(42, undefined);
    stale.end();
    registry.abort(42, new Error('stopped by the user'));
    expect(current.signal.aborted).toBe(true);
    current.end();
    stale.end();
    expect(registry.size).toBe(0);
  });
});
