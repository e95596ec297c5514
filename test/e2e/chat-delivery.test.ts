import { describe, expect, it } from 'vitest';
import { type FakeLlm, useChatSystem } from '../helpers/chat-system.js';
import { has } from '../helpers/services.js';
import type { TestSystem } from '../helpers/system.js';

let nextId = 18_000;
const newUser = () => {
  nextId += 1;
  return { id: nextId, first_name: `Deliver${nextId}`, language_code: 'en' };
};
const plain = (m: { text?: string }) => m.text ?? '';

/** An answer of several Telegram messages: paragraphs of ~1,400 characters, each tagged. */
function threePartAnswer(tag: string): string {
  return Array.from(
    { length: 9 },
    (_, i) => `${tag} paragraph ${i}: ${'lorem ipsum dolor '.repeat(80).trim()}`,
  ).join('\n\n');
}

for (const queue of ['inline', 'bullmq'] as const) {
  describe.skipIf(queue === 'bullmq' && !has('redis'))(
    `answers reach the right chat exactly once (${queue} queue)`,
    () => {
      let s: TestSystem;
      let llm: FakeLlm;
      useChatSystem(
        {
          label: `chat_delivery_${queue}`,
          redis: queue === 'bullmq',
          env: {
            LLM_MAX_RETRIES: '0',
            LLM_BREAKER_THRESHOLD: '1000',
            CHAT_STREAM_INTERVAL_MS: '100',
            CHAT_STREAM_GROUP_INTERVAL_MS: '100',
            BOT_RATE_LIMIT_POINTS: '1000',
            LLM_MAX_TOKENS: '4000',
            LLM_CONTEXT_TOKENS: '16000',
            // Failed sends reach the reply job at once, so its retry is what continues the delivery.
            TELEGRAM_MAX_RETRIES: '0',
          },
        },
        (system) => ({ s, llm } = system),
      );

      async function assistantRows(dialogId: number) {
        return s.app.db
          .selectFrom('messages')
          .selectAll()
          .where('dialog_id', '=', dialogId)
          .where('role', '=', 'assistant')
          .execute();
      }

      it('a delivery cut after the first part is finished by the retry, without asking the LLM again', async () => {
        const user = newUser();
        const text = threePartAnswer('resume');
        llm.enqueue({ text, chunkSize: 2_000 });
        await s.tg.injectFault({ method: 'sendMessage', chatId: user.id, skip: 1, errorCode: 502 });
        await s.tg.injectMessage({ user, text: 'a long one please' });
        await s.tg.waitForBotMessage(user.id, (m) => plain(m).includes('resume paragraph 8'), {
          timeoutMs: 20_000,
        });
        const parts = (await s.tg.botMessages(user.id)).map(plain);
        expect(parts.length).toBeGreaterThanOrEqual(3);
        expect(parts.join('\n\n').replace(/\s+/g, ' ')).toBe(text.replace(/\s+/g, ' '));
        expect(llm.stats().requests).toBe(1);

        const dialog = await s.tg.waitFor(async () => {
          const d = (await s.app.dialogs.active(user.id))!;
          return d.pending_answer_id === null ? d : undefined;
        }, 'the answer recorded as delivered');
        const rows = await assistantRows(dialog.id);
        expect(rows).toHaveLength(1);
        const sent = (rows[0]!.metadata as { delivery: { sent: number[] } }).delivery.sent;
        expect(sent).toEqual((await s.tg.botMessages(user.id)).map((m) => m.message_id));
        expect((await s.app.subscriptions.get(user.id)).messages_used).toBe(1);
      });

      it('a user who blocked the bot is not retried or notified, and gets the quota unit back', async () => {
        const user = newUser();
        await s.tg.injectMessage({ user, text: '/start' });
        await s.tg.waitForBotMessage(user.id);
        llm.enqueue({ text: 'An answer nobody will read.', firstByteDelayMs: 300 });
        await s.tg.injectMessage({ user, text: 'hello' });
        await llm.waitForRequests(1);
        await s.tg.blockUser(user.id);
        await s.tg.waitFor(
          async () => ((await s.app.users.find(user.id))?.bot_blocked_at ? true : undefined),
          'the user marked as having blocked the bot',
        );
        await s.tg.waitFor(
          async () => ((await s.app.subscriptions.get(user.id)).messages_used === 0 ? true : undefined),
          'the refund',
        );
        const dialog = (await s.app.dialogs.active(user.id))!;
        expect(dialog.pending_answer_id).toBeNull();
        const [row] = await assistantRows(dialog.id);
        expect(row!.metadata).toMatchObject({
          delivery: { sent: [], failed: expect.stringContaining('blocked') },
        });
        const sends = await s.tg.calls({ chatId: user.id, method: 'sendMessage' });
        // /start's welcome, then the one refused attempt: no retry, no failure notice.
        expect(sends.filter((c) => !c.ok)).toHaveLength(1);
        expect(llm.stats().requests).toBe(1);
      });

      it('a group conversation is its own dialog: private history never reaches the group', async () => {
        const user = newUser();
        const group = { id: -200_000 - user.id, type: 'supergroup' as const, title: 'Team' };
        llm.setDefault(null);
        await s.tg.injectMessage({ user, text: 'my private secret is 4242' });
        await s.tg.waitForBotMessage(user.id, (m) => plain(m) === 'Echo: my private secret is 4242');

        await s.tg.injectMessage({
          user,
          chat: group,
          text: `@${s.emulator.botUser.username} what do you know?`,
        });
        await s.tg.waitForBotMessage(group.id, (m) => plain(m).startsWith('Echo:'));
        const groupRequest = llm.requests().at(-1)!;
        expect(JSON.stringify(groupRequest.body.messages)).not.toContain('4242');
        // Each answer went to its own chat, once.
        expect((await s.tg.botMessages(user.id)).map(plain)).toEqual(['Echo: my private secret is 4242']);
        expect((await s.tg.botMessages(group.id)).length).toBe(1);

        const privateDialog = (await s.app.dialogs.active(user.id))!;
        const groupDialog = (await s.app.dialogs.active({ userId: user.id, chatId: group.id }))!;
        expect(groupDialog.id).not.toBe(privateDialog.id);
        expect(groupDialog.chat_id).toBe(group.id);

        // /reset in the group forgets the group's context only.
        await s.tg.injectMessage({ user, chat: group, text: '/reset' });
        await s.tg.waitForBotMessage(group.id, (m) => plain(m).includes('forgot the context'));
        await s.tg.injectMessage({ user, text: 'still private?' });
        await s.tg.waitForBotMessage(user.id, (m) => plain(m) === 'Echo: still private?');
        expect(JSON.stringify(llm.requests().at(-1)!.body.messages)).toContain('4242');
      });

      it('/persona gives the dialog its own system prompt until /persona reset', async () => {
        const user = newUser();
        llm.setDefault(null);
        await s.tg.injectMessage({ user, text: '/persona' });
        await s.tg.waitForBotMessage(user.id, (m) => plain(m).includes('default instructions'));
        await s.tg.injectMessage({ user, text: '/persona You are a pirate. Answer like one.' });
        await s.tg.waitForBotMessage(user.id, (m) => plain(m).includes('follows your instructions'));
        await s.tg.injectMessage({ user, text: 'ahoy' });
        await s.tg.waitForBotMessage(user.id, (m) => plain(m) === 'Echo: ahoy');
        expect(llm.requests().at(-1)!.body.messages[0]).toEqual({
          role: 'system',
          content: 'You are a pirate. Answer like one.',
        });
        await s.tg.injectMessage({ user, text: '/persona' });
        await s.tg.waitForBotMessage(user.id, (m) => plain(m).includes('You are a pirate. Answer like one.'));

        await s.tg.injectMessage({ user, text: `/persona ${'x'.repeat(2_001)}` });
        await s.tg.waitForBotMessage(user.id, (m) => plain(m).includes('That is too long'));

        await s.tg.injectMessage({ user, text: '/persona reset' });
        await s.tg.waitForBotMessage(user.id, (m) => plain(m).includes('default instructions again'));
        await s.tg.injectMessage({ user, text: 'hello again' });
        await s.tg.waitForBotMessage(user.id, (m) => plain(m) === 'Echo: hello again');
        const system = llm.requests().at(-1)!.body.messages[0];
        expect(system).toEqual({ role: 'system', content: await s.app.settings.get('llm.system_prompt') });
      });

      it('a part that fails for good stays apart from the parts delivered: they are kept, the notice comes after', async () => {
        const user = newUser();
        const group = { id: -400_000 - user.id, type: 'group' as const, title: 'Parts' };
        const text = threePartAnswer('partial');
        llm.enqueue({ text, chunkSize: 2_000 });
        // In a group the first part is the edited placeholder; the second is the first sendMessage.
        await s.tg.injectFault({ method: 'sendMessage', chatId: group.id, skip: 1, errorCode: 400 });
        await s.tg.injectMessage({ user, chat: group, text: `@${s.emulator.botUser.username} long please` });
        const notice = await s.tg.waitForBotMessage(group.id, (m) =>
          plain(m).includes('could not be delivered'),
        );
        const messages = await s.tg.botMessages(group.id);
        expect(messages.map(plain).filter((t) => t.startsWith('partial paragraph 0'))).toHaveLength(1);
        expect(messages.at(-1)!.message_id).toBe(notice.message_id);
        expect(messages.length).toBe(2);
        // Part of the answer reached the chat: the quota unit stays spent.
        expect((await s.app.subscriptions.get(user.id)).messages_used).toBe(1);
        expect(llm.stats().requests).toBe(1);
      });

      it('a job that lost the reply lease stores and sends nothing: the dialog is left to the holder', async () => {
        const user = newUser();
        llm.enqueue({ text: 'The answer of a job that stalled.', firstByteDelayMs: 500 });
        await s.tg.injectMessage({ user, text: 'question' });
        await llm.waitForRequests(1);
        const dialog = (await s.app.dialogs.active(user.id))!;
        // Another job takes the dialog over, as after a stall longer than the lease.
        const other = '00000000-0000-4000-8000-0000000000aa';
        await s.app.db
          .updateTable('dialogs')
          .set({ reply_token: other, reply_until: new Date(Date.now() + 60_000) })
          .where('id', '=', dialog.id)
          .execute();
        const lost = s.app.metrics.registry.getSingleMetric('vitte_chat_reply_lease_lost_total')!;
        const before = (await lost.get()).values[0]?.value ?? 0;
        await s.tg.waitFor(
          async () => (((await lost.get()).values[0]?.value ?? 0) > before ? true : undefined),
          'the stalled job giving up',
        );
        expect(await assistantRows(dialog.id)).toEqual([]);
        expect((await s.tg.botMessages(user.id)).map(plain)).toEqual([]);
        // It gave up at once: no second generation for a dialog it no longer holds.
        expect(llm.stats().requests).toBe(1);
        // The holder answers once it runs (here: the lease is given back and the job runs again).
        await s.app.db
          .updateTable('dialogs')
          .set({ reply_token: null, reply_until: null })
          .where('id', '=', dialog.id)
          .execute();
        llm.enqueue('The answer of the holder.');
        await s.app.chat.reply(dialog.id, { isLast: true });
        await s.tg.waitForBotMessage(user.id, (m) => plain(m) === 'The answer of the holder.');
        expect(await assistantRows(dialog.id)).toHaveLength(1);
      });

      it('one generation per dialog: a second reply job for the same dialog leaves it to the first', async () => {
        const user = newUser();
        llm.enqueue({ text: 'Only once.', firstByteDelayMs: 600 });
        await s.tg.injectMessage({ user, text: 'question' });
        await llm.waitForRequests(1);
        const dialog = (await s.app.dialogs.active(user.id))!;
        await s.app.chat.reply(dialog.id, { isLast: true });
        await s.tg.waitForBotMessage(user.id, (m) => plain(m) === 'Only once.');
        expect(llm.stats().requests).toBe(1);
        expect(await assistantRows(dialog.id)).toHaveLength(1);
      });

      it('an answer that renders to nothing visible goes out as its plain text', async () => {
        const user = newUser();
        llm.enqueue('```');
        await s.tg.injectMessage({ user, text: 'give me a fence' });
        const answer = await s.tg.waitForBotMessage(user.id);
        expect(plain(answer)).toBe('```');
      });
    },
  );
}

describe.skipIf(!has('redis'))('the provider: retries and one concurrency cap for every process', () => {
  let s: TestSystem;
  let llm: FakeLlm;
  useChatSystem(
    {
      label: 'chat_provider',
      redis: true,
      env: {
        LLM_MAX_RETRIES: '2',
        LLM_MAX_CONCURRENCY: '1',
        CHAT_STREAM_INTERVAL_MS: '100',
        BOT_RATE_LIMIT_POINTS: '1000',
      },
    },
    (system) => ({ s, llm } = system),
  );

  it('retries 429 and 5xx from the provider, then answers', async () => {
    const user = newUser();
    llm.enqueue({ error: { status: 429 } }, { error: { status: 503 } }, 'Third time lucky.');
    await s.tg.injectMessage({ user, text: 'try hard' });
    await s.tg.waitForBotMessage(user.id, (m) => plain(m) === 'Third time lucky.', { timeoutMs: 15_000 });
    expect(llm.stats().requests).toBe(3);
    expect((await s.app.subscriptions.get(user.id)).messages_used).toBe(1);
  });

  it('never has more requests in flight than LLM_MAX_CONCURRENCY, counted in Redis', async () => {
    const users = [newUser(), newUser(), newUser()];
    for (const u of users) llm.enqueue({ text: `For ${u.id}.`, firstByteDelayMs: 300 });
    await Promise.all(users.map((user) => s.tg.injectMessage({ user, text: 'at the same time' })));
    for (const u of users) {
      await s.tg.waitForBotMessage(u.id, (m) => plain(m).startsWith('For '), { timeoutMs: 15_000 });
    }
    expect(llm.stats().maxConcurrent).toBe(1);
    expect(llm.stats().requests).toBe(3);
  });
});

describe('streaming under Telegram flood control', () => {
  let s: TestSystem;
  let llm: FakeLlm;
  useChatSystem(
    { label: 'chat_flood', env: { CHAT_STREAM_GROUP_INTERVAL_MS: '100', BOT_RATE_LIMIT_POINTS: '1000' } },
    (system) => ({ s, llm } = system),
  );

  it('a 429 on a streaming edit pauses the edits for retry_after instead of hammering; the answer arrives', async () => {
    const user = newUser();
    const group = { id: -300_000 - user.id, type: 'group' as const, title: 'Flood' };
    await s.tg.setFloodLimits({ perChatPerSecond: 1, perChatBurst: 2 });
    const words = Array.from({ length: 200 }, (_, i) => `w${i}`).join(' ');
    llm.enqueue({ text: words, chunkSize: 3, chunkDelayMs: 50 });
    await s.tg.injectMessage({ user, chat: group, text: `@${s.emulator.botUser.username} stream it` });
    // A generous wait: the stream (67 chunks 50 ms apart), edits 3 s apart and retry_after pauses take
    // seconds, far more on a loaded machine; what is asserted is the order of calls, not the time.
    await s.tg.waitForBotMessage(group.id, (m) => plain(m) === words, { timeoutMs: 50_000 });
    const calls = (await s.tg.calls({ chatId: group.id })).filter((c) => c.method !== 'sendChatAction');
    const refused = calls.filter((c) => c.error_code === 429);
    expect(refused.length).toBeGreaterThan(0);
    // After a refusal, nothing is sent to the chat until retry_after has passed.
    for (const r of refused) {
      const retryAfterMs = Number(/retry after (\d+)/.exec(r.description ?? '')?.[1] ?? 1) * 1000;
      const early = calls.filter((c) => c.at > r.at && c.at < r.at + retryAfterMs - 50);
      expect(early.map((c) => `${c.method}@${c.at - r.at}ms`)).toEqual([]);
    }
    expect(refused.length).toBeLessThan(calls.length / 2);
  }, 60_000);
});
