import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeLlm, useChatSystem } from '../helpers/chat-system.js';
import { has } from '../helpers/services.js';
import { startSystem, type TestSystem } from '../helpers/system.js';

let nextId = 8000;
const newUser = () => {
  nextId += 1;
  return { id: nextId, first_name: `Chat${nextId}`, language_code: 'en' };
};

const plain = (m: { text?: string }) => m.text ?? '';

for (const queue of ['inline', 'bullmq'] as const) {
  describe.skipIf(queue === 'bullmq' && !has('redis'))(
    `AI chat end to end (emulator + fake OpenAI server, ${queue} queue)`,
    () => {
      let s: TestSystem;
      let llm: FakeLlm;
      useChatSystem(
        {
          mode: 'webhook',
          label: `chat_${queue}`,
          redis: queue === 'bullmq',
          env: {
            LLM_API_KEY: 'test-key',
            LLM_MAX_RETRIES: '0',
            LLM_TIMEOUT_MS: '1500',
            // The breaker has its own suite below; here failures must not add up across tests.
            LLM_BREAKER_THRESHOLD: '1000',
            CHAT_STREAM_INTERVAL_MS: '100',
            BOT_RATE_LIMIT_POINTS: '1000',
            LLM_MAX_TOKENS: '4000',
            LLM_CONTEXT_TOKENS: '16000',
          },
        },
        (system) => ({ s, llm } = system),
      );

      async function used(userId: number): Promise<number> {
        return (await s.app.subscriptions.get(userId)).messages_used;
      }

      it('streams drafts, sends the final answer as HTML and stores it with token usage', async () => {
        const user = newUser();
        llm.enqueue({
          text: 'Hello **world**, here is `code` and more words to stream.',
          chunkSize: 4,
          chunkDelayMs: 60,
        });
        await s.tg.injectMessage({ user, text: 'hi there' });
        const answer = await s.tg.waitForBotMessage(user.id, (m) => plain(m).startsWith('Hello world'));
        expect(plain(answer)).toBe('Hello world, here is code and more words to stream.');
        expect(answer.entities?.map((e) => e.type)).toEqual(['bold', 'code']);

        const drafts = await s.tg.drafts(user.id);
        expect(drafts).toHaveLength(1);
        expect(drafts[0]!.states.length).toBeGreaterThanOrEqual(2);
        expect(drafts[0]!.active).toBe(false);
        const actions = await s.tg.chatActions(user.id);
        expect(actions.some((a) => a.action === 'typing')).toBe(true);

        const request = llm.requests()[0]!;
        expect(request.body.stream).toBe(true);
        expect(request.body.messages[0]).toMatchObject({ role: 'system' });
        expect(request.body.messages.at(-1)).toEqual({ role: 'user', content: 'hi there' });

        // The answer is stored before it is sent; its delivery is recorded right after the send.
        const dialog = await s.tg.waitFor(async () => {
          const d = (await s.app.dialogs.active(user.id))!;
          return d.pending_answer_id === null ? d : undefined;
        }, 'the delivery recorded');
        const rows = await s.app.db
          .selectFrom('messages')
          .selectAll()
          .where('dialog_id', '=', dialog.id)
          .orderBy('id')
          .execute();
        expect(rows.map((r) => r.role)).toEqual(['user', 'assistant']);
        expect(rows[1]!.tokens).toBeGreaterThan(0);
        expect(rows[1]!.metadata).toMatchObject({
          prompt_tokens: expect.any(Number),
          completion_tokens: rows[1]!.tokens,
        });
        expect(rows[1]!.telegram_message_id).toBe(answer.message_id);
        expect(await used(user.id)).toBe(1);
      });

      it('answers a burst that arrives during a generation together, in one more round', async () => {
        const user = newUser();
        llm.enqueue({ text: 'First answer.', firstByteDelayMs: 700 }, { text: 'Second answer.' });
        await s.tg.injectMessage({ user, text: 'one' });
        await llm.waitForRequests(1);
        await s.tg.injectMessage({ user, text: 'two' });
        await s.tg.injectMessage({ user, text: 'three' });
        await s.tg.waitForBotMessage(user.id, (m) => plain(m) === 'Second answer.', { timeoutMs: 10_000 });
        const requests = llm.requests();
        expect(requests).toHaveLength(2);
        const lastTwo = requests[1]!.body.messages.slice(-2);
        expect(lastTwo).toEqual([
          { role: 'user', content: 'two' },
          { role: 'user', content: 'three' },
        ]);
        expect(requests[1]!.body.messages).toContainEqual({ role: 'assistant', content: 'First answer.' });
        const texts = (await s.tg.botMessages(user.id)).map(plain);
        expect(texts).toEqual(['First answer.', 'Second answer.']);
        expect(await used(user.id)).toBe(3);
      });

      it('/stop cancels the generation in flight and keeps the partial answer', async () => {
        const user = newUser();
        const long = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ');
        llm.enqueue({ text: long, chunkSize: 6, chunkDelayMs: 100 });
        await s.tg.injectMessage({ user, text: 'tell me a long story' });
        await s.tg.waitFor(async () => ((await s.tg.drafts(user.id)).length ? true : undefined), 'a draft');
        await s.tg.injectMessage({ user, text: '/stop' });
        await s.tg.waitForBotMessage(user.id, (m) => plain(m) === 'Stopped.');
        const partial = await s.tg.waitForBotMessage(user.id, (m) => plain(m).startsWith('word0'));
        expect(plain(partial).length).toBeGreaterThan(0);
        expect(plain(partial).length).toBeLessThan(long.length);
        await s.tg.waitFor(
          async () => (llm.stats().aborted >= 1 ? true : undefined),
          'the LLM request aborted',
        );
        const dialog = (await s.app.dialogs.active(user.id))!;
        const assistant = await s.tg.waitFor(
          () =>
            s.app.db
              .selectFrom('messages')
              .selectAll()
              .where('dialog_id', '=', dialog.id)
              .where('role', '=', 'assistant')
              .executeTakeFirst(),
          'the partial answer stored',
        );
        expect(assistant.metadata).toMatchObject({ stopped: true });
        expect(long.startsWith(assistant.content)).toBe(true);
      });

      it('provider errors: the user is told and the quota unit comes back', async () => {
        const user = newUser();
        llm.enqueue({ error: { status: 500, message: 'upstream exploded' } });
        await s.tg.injectMessage({ user, text: 'hello?' });
        const notice = await s.tg.waitForBotMessage(user.id);
        expect(plain(notice)).toContain('could not get an answer');
        await s.tg.waitFor(async () => ((await used(user.id)) === 0 ? true : undefined), 'the refund');
      });

      it('a stalled stream times out: the user is told and refunded', async () => {
        const user = newUser();
        llm.enqueue({ text: 'never finished', fault: 'hang', faultAfterChunks: 1 });
        await s.tg.injectMessage({ user, text: 'are you there?' });
        const notice = await s.tg.waitForBotMessage(
          user.id,
          (m) => plain(m).includes('could not get an answer'),
          {
            timeoutMs: 10_000,
          },
        );
        expect(notice).toBeDefined();
        await s.tg.waitFor(async () => ((await used(user.id)) === 0 ? true : undefined), 'the refund');
      });

      it('a stream cut mid-way or a malformed chunk never leaves the user without an answer', async () => {
        const user = newUser();
        llm.enqueue({ text: 'partial partial partial', fault: 'cut', faultAfterChunks: 1 });
        llm.enqueue({ text: 'partial partial partial', fault: 'malformed', faultAfterChunks: 1 });
        await s.tg.injectMessage({ user, text: 'first' });
        await s.tg.waitForBotMessage(user.id, (m) => plain(m).includes('could not get an answer'));
        await s.tg.injectMessage({ user, text: 'second' });
        await s.tg.waitFor(
          async () =>
            (await s.tg.botMessages(user.id)).filter((m) => plain(m).includes('could not')).length === 2
              ? true
              : undefined,
          'two failure notices',
        );
        expect(await used(user.id)).toBe(0);
      });

      it('a 10,000-character answer arrives complete and in order', async () => {
        const user = newUser();
        const paragraphs = Array.from(
          { length: 40 },
          (_, i) => `Paragraph ${i}: ${'lorem ipsum dolor sit amet '.repeat(9).trim()} end${i}.`,
        );
        const text = paragraphs.join('\n\n');
        expect(text.length).toBeGreaterThan(10_000);
        llm.enqueue({ text, chunkSize: 500 });
        await s.tg.injectMessage({ user, text: 'write a lot' });
        await s.tg.waitForBotMessage(user.id, (m) => plain(m).includes('end39.'), { timeoutMs: 15_000 });
        const parts = (await s.tg.botMessages(user.id)).map(plain);
        expect(parts.length).toBeGreaterThanOrEqual(3);
        for (const p of parts) expect(p.length).toBeLessThanOrEqual(4096);
        expect(parts.join('\n\n').replace(/\s+/g, ' ')).toBe(text.replace(/\s+/g, ' '));
      });

      it('renders Markdown edge cases or falls back to plain text, never fails', async () => {
        const user = newUser();
        const tricky =
          'Use 2 * 3 = 6 and a<b && c>d.\n\n**unclosed bold and _odd_under_scores\n\n```js\nif (a < b && c) { x = "<tag>"; }\n```';
        llm.enqueue(tricky);
        await s.tg.injectMessage({ user, text: 'tricky' });
        const answer = await s.tg.waitForBotMessage(user.id, (m) => plain(m).includes('2 * 3 = 6'));
        expect(plain(answer)).toContain('a<b && c>d.');
        expect(plain(answer)).toContain('**unclosed bold');
        expect(plain(answer)).toContain('if (a < b && c) { x = "<tag>"; }');
        expect(answer.entities?.some((e) => e.type === 'pre')).toBe(true);

        // When Telegram still refuses the HTML, the same answer goes out as plain text.
        await s.tg.injectFault({
          method: 'sendMessage',
          chatId: user.id,
          errorCode: 400,
          description: 'Bad Request: can\'t parse entities: Unsupported start tag "x" at byte offset 0',
        });
        llm.enqueue('**bold** answer');
        await s.tg.injectMessage({ user, text: 'again' });
        const fallback = await s.tg.waitForBotMessage(user.id, (m) => plain(m) === 'bold answer');
        expect(fallback.entities ?? []).toEqual([]);
      });

      it('refuses when the quota is used up and says when it resets', async () => {
        const user = newUser();
        await s.tg.injectMessage({ user, text: '/start' });
        await s.tg.waitForBotMessage(user.id);
        await s.app.db
          .updateTable('subscriptions')
          .set({ messages_used: 30 })
          .where('user_id', '=', user.id)
          .execute();
        await s.tg.injectMessage({ user, text: 'one more?' });
        const refusal = await s.tg.waitForBotMessage(user.id, (m) =>
          plain(m).includes('used all your messages'),
        );
        expect(plain(refusal)).toMatch(/resets .+ UTC/);
        expect(llm.stats().requests).toBe(0);
      });

      it('in a group it answers by editing one message, never "not modified"', async () => {
        const user = newUser();
        const chat = { id: -100_500, type: 'group' as const, title: 'Team' };
        llm.enqueue({
          text: 'Group answer streaming in several small pieces here.',
          chunkSize: 5,
          chunkDelayMs: 60,
        });
        await s.tg.injectMessage({ user, chat, text: `@${s.emulator.botUser.username} hello` });
        const answer = await s.tg.waitForBotMessage(
          chat.id,
          (m) => plain(m) === 'Group answer streaming in several small pieces here.',
        );
        expect(answer.history.length).toBeGreaterThanOrEqual(1);
        const calls = await s.tg.calls({ chatId: chat.id });
        expect(calls.filter((c) => c.method === 'sendMessageDraft')).toEqual([]);
        expect(calls.filter((c) => !c.ok)).toEqual([]);
        expect((await s.tg.botMessages(chat.id)).length).toBe(1);
      });

      it('/new, /dialogs switching and /reset keep history apart', async () => {
        const user = newUser();
        llm.setDefault(null);
        await s.tg.injectMessage({ user, text: 'about cats' });
        await s.tg.waitForBotMessage(user.id, (m) => plain(m) === 'Echo: about cats');
        await s.tg.injectMessage({ user, text: '/new Dogs' });
        await s.tg.waitForBotMessage(user.id, (m) => plain(m).includes('New dialog started: Dogs'));
        await s.tg.injectMessage({ user, text: 'about dogs' });
        await s.tg.waitForBotMessage(user.id, (m) => plain(m) === 'Echo: about dogs');
        const dogsRequest = llm.requests().at(-1)!;
        expect(JSON.stringify(dogsRequest.body.messages)).not.toContain('cats');

        await s.tg.injectMessage({ user, text: '/dialogs' });
        const list = await s.tg.waitForBotMessage(user.id, (m) => Boolean(m.reply_markup));
        const cats = list.reply_markup!.inline_keyboard.flat().find((b) => b.text.includes('about cats'));
        expect(cats && 'callback_data' in cats).toBe(true);
        await s.tg.injectCallbackQuery({
          user,
          message_id: list.message_id,
          data: (cats as { callback_data: string }).callback_data,
        });
        await s.tg.waitFor(
          async () => ((await s.app.dialogs.active(user.id))?.title === 'about cats' ? true : undefined),
          'switch',
        );
        await s.tg.injectMessage({ user, text: 'cats again' });
        await s.tg.waitForBotMessage(user.id, (m) => plain(m) === 'Echo: cats again');
        expect(JSON.stringify(llm.requests().at(-1)!.body.messages)).toContain('about cats');

        await s.tg.injectMessage({ user, text: '/reset' });
        await s.tg.waitForBotMessage(user.id, (m) => plain(m).includes('forgot the context'));
        await s.tg.injectMessage({ user, text: 'fresh start' });
        await s.tg.waitForBotMessage(user.id, (m) => plain(m) === 'Echo: fresh start');
        const afterReset = llm
          .requests()
          .at(-1)!
          .body.messages.filter((m) => m.role !== 'system');
        expect(afterReset).toEqual([{ role: 'user', content: 'fresh start' }]);
      });
    },
  );
}

describe('LLM circuit breaker', () => {
  let s: TestSystem;
  let llm: FakeLlm;
  useChatSystem(
    {
      label: 'chat_breaker',
      env: {
        LLM_MAX_RETRIES: '0',
        LLM_BREAKER_THRESHOLD: '3',
        LLM_BREAKER_COOLDOWN_MS: '1500',
        CHAT_STREAM_INTERVAL_MS: '100',
      },
      keepLlmState: true,
    },
    (system) => ({ s, llm } = system),
  );
  async function used(userId: number): Promise<number> {
    return (await s.app.subscriptions.get(userId)).messages_used;
  }

  it('the circuit breaker opens after consecutive failures, fails fast, then closes', async () => {
    const user = newUser();
    for (let i = 0; i < 3; i++) llm.enqueue({ error: { status: 503 } });
    for (const text of ['a', 'b', 'c']) {
      await s.tg.injectMessage({ user, text });
      await s.tg.waitFor(
        async () =>
          (await s.tg.botMessages(user.id)).length >= ['a', 'b', 'c'].indexOf(text) + 1 ? true : undefined,
        `failure ${text}`,
      );
    }
    const before = llm.stats().requests;
    await s.tg.injectMessage({ user, text: 'd' });
    const busy = await s.tg.waitForBotMessage(user.id, (m) => plain(m).includes('busy'));
    expect(busy).toBeDefined();
    expect(llm.stats().requests).toBe(before);
    expect(await used(user.id)).toBe(0);

    await new Promise((r) => setTimeout(r, 1_600));
    llm.enqueue({ text: 'I am back.' });
    await s.tg.injectMessage({ user, text: 'e' });
    await s.tg.waitForBotMessage(user.id, (m) => plain(m) === 'I am back.');
    expect(await used(user.id)).toBe(1);
  });
});

describe('rolling summary of long dialogs', () => {
  let s: TestSystem;
  let llm: FakeLlm;
  useChatSystem(
    {
      label: 'chat_summary',
      env: { LLM_CONTEXT_TOKENS: '400', LLM_MAX_TOKENS: '100', BOT_RATE_LIMIT_POINTS: '1000' },
      keepLlmState: true,
    },
    (system) => {
      ({ s, llm } = system);
      llm.setDefault((request) => {
        const prompt = String(request.body.messages[0]?.content ?? '');
        return prompt.includes('running summary')
          ? 'The user keeps telling long stories about a cat called Tom.'
          : {};
      });
    },
  );

  it('folds what no longer fits into the summary and sends it with later requests', async () => {
    const user = newUser();
    for (let i = 0; i < 6; i++) {
      const text = `Story ${i}: ${'my cat Tom climbed the tall old tree again and would not come down '.repeat(3)}`;
      await s.tg.injectMessage({ user, text });
      await s.tg.waitForBotMessage(user.id, (m) => plain(m).startsWith(`Echo: Story ${i}`));
    }
    const dialog = await s.tg.waitFor(async () => {
      const d = await s.app.dialogs.active(user.id);
      return d?.summary ? d : undefined;
    }, 'a summary on the dialog');
    expect(dialog.summary).toBe('The user keeps telling long stories about a cat called Tom.');
    expect(dialog.summary_up_to_id).toBeGreaterThan(0);

    await s.tg.injectMessage({ user, text: 'What is my cat called?' });
    await s.tg.waitForBotMessage(user.id, (m) => plain(m) === 'Echo: What is my cat called?');
    // The reply's request, not a summary request that may have come after it.
    const last = llm
      .requests()
      .findLast((r) => r.body.messages?.at(-1)?.content === 'What is my cat called?')!.body.messages;
    expect(last[1]).toEqual({
      role: 'system',
      content:
        'Summary of the earlier conversation:\nThe user keeps telling long stories about a cat called Tom.',
    });
    // Folded messages are not sent again verbatim.
    expect(JSON.stringify(last)).not.toContain('Story 0:');
  });
});

describe('AI chat without an LLM configured', () => {
  let s: TestSystem;
  beforeAll(async () => {
    s = await startSystem({ mode: 'polling', label: 'chat_nollm' });
  });
  afterAll(async () => s?.close());

  it('tells the user the AI is not available (no operator instructions) and takes no quota', async () => {
    const user = newUser();
    await s.tg.injectMessage({ user, text: 'hello' });
    const notice = await s.tg.waitForBotMessage(user.id);
    expect(plain(notice)).toBe('The AI is not available right now. Please try again later.');
    expect((await s.app.subscriptions.get(user.id)).messages_used).toBe(0);
  });
});
