import { describe, expect, it } from 'vitest';
import type { ConversationMessage } from '../../src/dev/bot-api-emulator/index.js';
import { type FakeLlm, useChatSystem } from '../helpers/chat-system.js';
import type { TestSystem } from '../helpers/system.js';

const plain = (m: { text?: string }) => m.text ?? '';

/** /dialogs: the 🗑 next to a dialog with history asks first; an empty dialog goes at once. */
describe('deleting a dialog from /dialogs', () => {
  let s: TestSystem;
  let llm: FakeLlm;
  useChatSystem(
    { label: 'dialogs_delete', env: { CHAT_STREAM_INTERVAL_MS: '100', BOT_RATE_LIMIT_POINTS: '1000' } },
    (system) => ({ s, llm } = system),
  );

  function button(m: ConversationMessage, text: (t: string) => boolean, nth = 0): string {
    const buttons = m.reply_markup?.inline_keyboard.flat() ?? [];
    const found = buttons.filter((b) => text(b.text))[nth];
    if (!found || !('callback_data' in found))
      throw new Error(`no such button in ${JSON.stringify(buttons)}`);
    return found.callback_data as string;
  }

  it('asks before deleting a dialog with messages; Cancel keeps it, confirming deletes it', async () => {
    const user = { id: 77_001, first_name: 'Del', language_code: 'en' };
    llm.setDefault(null);
    await s.tg.injectMessage({ user, text: 'about cats' });
    await s.tg.waitForBotMessage(user.id, (m) => plain(m) === 'Echo: about cats');
    await s.tg.injectMessage({ user, text: '/new Empty one' });
    await s.tg.waitForBotMessage(user.id, (m) => plain(m).includes('New dialog started: Empty one'));
    const cats = (await s.app.dialogs.list({ userId: user.id, chatId: user.id })).find(
      (d) => d.title === 'about cats',
    )!;
    expect(cats.message_count).toBe(2);

    await s.tg.injectMessage({ user, text: '/dialogs' });
    const list = await s.tg.waitForBotMessage(user.id, (m) => plain(m).startsWith('Your dialogs'));
    const row = (title: string) => (m: ConversationMessage) =>
      button(
        m,
        () => true,
        (m.reply_markup?.inline_keyboard.findIndex((r) => r[0]!.text.includes(title)) ?? 0) * 2 + 1,
      );
    const press = (data: string) => s.tg.injectCallbackQuery({ user, message_id: list.message_id, data });
    const current = async () =>
      (await s.tg.botMessages(user.id)).find((m) => m.message_id === list.message_id)!;

    await press(row('about cats')(list));
    const asked = await s.tg.waitForBotMessage(
      user.id,
      (m) => m.message_id === list.message_id && plain(m).startsWith('Delete'),
    );
    expect(plain(asked)).toBe('Delete about cats and its 2 messages? This cannot be undone.');
    expect(await s.app.dialogs.list({ userId: user.id, chatId: user.id })).toHaveLength(2);

    await press(button(asked, (t) => t === 'Cancel'));
    await s.tg.waitFor(
      async () => (plain(await current()).startsWith('Your dialogs') ? true : undefined),
      'list',
    );
    expect(await s.app.dialogs.list({ userId: user.id, chatId: user.id })).toHaveLength(2);

    await press(row('about cats')(await current()));
    const again = await s.tg.waitForBotMessage(
      user.id,
      (m) => m.message_id === list.message_id && plain(m).startsWith('Delete'),
    );
    await press(button(again, (t) => t === '🗑 Delete'));
    await s.tg.waitFor(
      async () =>
        (await s.app.dialogs.list({ userId: user.id, chatId: user.id })).length === 1 ? true : undefined,
      'deleted',
    );
    const after = await s.tg.waitFor(async () => {
      const m = await current();
      return plain(m).startsWith('Your dialogs') ? m : undefined;
    }, 'list again');
    expect(after.reply_markup?.inline_keyboard.flatMap((r) => r.slice(0, 1).map((b) => b.text))).toEqual([
      '✅ Empty one · 0',
    ]);

    // The empty dialog has nothing to lose: one tap.
    await press(row('Empty one')(after));
    await s.tg.waitFor(
      async () =>
        (await s.app.dialogs.list({ userId: user.id, chatId: user.id })).length === 0 ? true : undefined,
      'empty dialog deleted',
    );
  });
});
