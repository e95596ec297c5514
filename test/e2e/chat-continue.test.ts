import { describe, expect, it } from 'vitest';
import { type FakeLlm, useChatSystem } from '../helpers/chat-system.js';
import type { TestSystem } from '../helpers/system.js';

/** An answer cut at LLM_MAX_TOKENS says so and offers to continue. */
describe('an answer cut at the token limit', () => {
  let s: TestSystem;
  let llm: FakeLlm;
  useChatSystem(
    { label: 'chat_continue', env: { CHAT_STREAM_INTERVAL_MS: '100' } },
    (system) => ({ s, llm } = system),
  );

  it('ends with a note and a Continue button that asks for the rest as a new turn', async () => {
    const user = { id: 72_001, first_name: 'Cut', language_code: 'en' };
    llm.enqueue({ text: 'The first half of a long story', finishReason: 'length' });
    await s.tg.injectMessage({ user, text: 'Tell me a long story' });
    const note = await s.tg.waitForBotMessage(user.id, (m) => (m.text ?? '').includes('length limit'));
    expect(note.text).toBe('✂️ The answer reached its length limit and stops here.');
    const button = note.reply_markup?.inline_keyboard[0]?.[0];
    expect(button).toMatchObject({ text: 'Continue' });
    const answers = (await s.tg.conversation(user.id)).messages.filter((m) => m.outgoing);
    expect(answers.map((m) => m.text)).toEqual([
      'The first half of a long story',
      '✂️ The answer reached its length limit and stops here.',
    ]);

    llm.enqueue({ text: 'and the second half.' });
    const data = (button as { callback_data: string }).callback_data;
    await s.tg.injectCallbackQuery({ user, message_id: note.message_id, data });
    await s.tg.waitForBotMessage(user.id, (m) => m.text === 'and the second half.');
    const [, second] = llm.requests();
    const last = second!.body.messages.at(-1)!;
    expect(last).toMatchObject({ role: 'user', content: 'Continue from where you stopped.' });
    expect(second!.body.messages.some((m) => m.content === 'The first half of a long story')).toBe(true);
    // The button is gone from the note: it asked once.
    const after = (await s.tg.conversation(user.id)).messages.find((m) => m.message_id === note.message_id);
    expect(after?.reply_markup?.inline_keyboard ?? []).toEqual([]);
    expect((await s.app.subscriptions.get(user.id)).messages_used).toBe(2);
  });
});
