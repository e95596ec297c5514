import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSystem, type TestSystem } from '../helpers/system.js';

const ON = '🔔 Reminders and news: on';
const OFF = '🔕 Reminders and news: off';

describe('/settings opts a user out of broadcasts and reminders (bot over the emulator)', () => {
  let s: TestSystem;
  beforeAll(async () => {
    s = await startSystem({ label: 'broadcast_optout', env: { BROADCAST_RATE_PER_SEC: '100' } });
  }, 60_000);
  afterAll(async () => s?.close());

  async function broadcastAndWait(text: string): Promise<void> {
    const b = await s.app.broadcasts.create({ text, audience: { kind: 'all' }, createdBy: 'e2e' });
    await s.app.broadcasts.start(b.id);
    await s.tg.waitFor(
      async () => ((await s.app.broadcasts.get(b.id)).status === 'completed' ? true : undefined),
      `broadcast "${text}"`,
      { timeoutMs: 20_000 },
    );
  }

  it('the toggle is stored, shown, and respected by the next broadcasts', async () => {
    const quiet = { id: 7101, first_name: 'Quiet', language_code: 'en' };
    const other = { id: 7102, first_name: 'Other', language_code: 'en' };
    for (const user of [quiet, other]) {
      await s.tg.injectMessage({ user, text: '/start' });
      await s.tg.waitForBotMessage(user.id);
    }

    await s.tg.injectMessage({ user: quiet, text: '/settings' });
    const menu = await s.tg.waitForBotMessage(quiet.id, (m) => m.text === 'Settings');
    expect(menu.entities).toEqual([{ type: 'bold', offset: 0, length: 8 }]);
    expect(menu.reply_markup).toEqual({
      inline_keyboard: [[{ text: ON, callback_data: 'settings:notifications:off' }]],
    });

    await s.tg.injectCallbackQuery({
      user: quiet,
      message_id: menu.message_id,
      data: 'settings:notifications:off',
    });
    await s.tg.waitFor(
      async () => ((await s.tg.callbackAnswers()).some((a) => a.text === 'Saved.') ? true : undefined),
      'the callback answer',
    );
    await s.tg.waitFor(
      async () =>
        (await s.tg.botMessages(quiet.id)).find((m) => m.message_id === menu.message_id)?.reply_markup
          ?.inline_keyboard[0]?.[0]?.text === OFF
          ? true
          : undefined,
      'the keyboard to show "off"',
    );
    expect((await s.app.users.get(quiet.id)).notifications_enabled).toBe(false);

    await broadcastAndWait('first news');
    const texts = async (id: number) => (await s.tg.botMessages(id)).map((m) => m.text);
    expect(await texts(other.id)).toContain('first news');
    expect(await texts(quiet.id)).not.toContain('first news');

    await s.tg.injectCallbackQuery({
      user: quiet,
      message_id: menu.message_id,
      data: 'settings:notifications:on',
    });
    await s.tg.waitFor(
      async () => ((await s.app.users.get(quiet.id)).notifications_enabled ? true : undefined),
      'notifications back on',
    );
    await broadcastAndWait('second news');
    expect(await texts(quiet.id)).toContain('second news');
  }, 60_000);
});
