import { autoRetry } from '@grammyjs/auto-retry';
import { Bot, GrammyError, InputFile } from 'grammy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BotApiEmulator, createBotApiEmulator } from '../../src/dev/bot-api-emulator/index.js';

/** A valid 1×1 PNG. */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);
const USER = { id: 3003, first_name: 'Gram', language_code: 'en' };

let emu: BotApiEmulator;

beforeAll(async () => {
  emu = await createBotApiEmulator({ botUsername: 'grammy_test_bot' });
});
afterAll(async () => {
  await emu.close();
});

function newBot(): Bot {
  return new Bot(emu.token, { client: { apiRoot: emu.url } });
}

describe('a real grammY bot against the emulator', () => {
  it('gets its identity and sends formatted messages and photos', async () => {
    const bot = newBot();
    await bot.init();
    expect(bot.botInfo).toMatchObject({
      username: 'grammy_test_bot',
      is_bot: true,
      id: Number(emu.token.split(':')[0]),
    });

    const sent = await bot.api.sendMessage(USER.id, '<b>Hi</b> <i>there</i>', {
      parse_mode: 'HTML',
      reply_markup: { inline_keyboard: [[{ text: 'Ok', callback_data: 'ok' }]] },
    });
    expect(sent).toMatchObject({ text: 'Hi there', chat: { id: USER.id }, from: { id: bot.botInfo.id } });
    expect(sent.entities?.map((e) => e.type)).toEqual(['bold', 'italic']);

    const edited = await bot.api.editMessageText(USER.id, sent.message_id, 'Bye');
    expect(edited).toMatchObject({ text: 'Bye', message_id: sent.message_id });

    const photo = await bot.api.sendPhoto(USER.id, new InputFile(PNG, 'dot.png'), {
      caption: '<b>dot</b>',
      parse_mode: 'HTML',
      reply_markup: { inline_keyboard: [[{ text: 'Open', url: 'https://example.com' }]] },
    });
    expect(photo.photo?.at(-1)).toMatchObject({ width: 1, height: 1 });
    expect(photo.caption).toBe('dot');
    expect(photo.reply_markup?.inline_keyboard[0]?.[0]).toEqual({ text: 'Open', url: 'https://example.com' });
  });

  it('surfaces Telegram errors as GrammyError with the real fields', async () => {
    const bot = newBot();
    await emu.client.blockUser(4004);
    const blocked = await bot.api.sendMessage(4004, 'x').catch((e: unknown) => e);
    expect(blocked).toBeInstanceOf(GrammyError);
    expect(blocked).toMatchObject({ error_code: 403, description: 'Forbidden: bot was blocked by the user' });

    await emu.client.injectFault({ method: 'sendMessage', errorCode: 429, retryAfter: 3 });
    const limited = await bot.api.sendMessage(USER.id, 'x').catch((e: unknown) => e);
    expect(limited).toMatchObject({ error_code: 429, parameters: { retry_after: 3 } });

    const invalid = await bot.api
      .sendMessage(USER.id, '<b>open', { parse_mode: 'HTML' })
      .catch((e: unknown) => e);
    expect(invalid).toMatchObject({ error_code: 400 });
    expect((invalid as GrammyError).description).toMatch(/^Bad Request: can't parse entities/);
  });

  it('lets the auto-retry plugin wait out an injected 429', async () => {
    const bot = newBot();
    bot.api.config.use(autoRetry({ maxRetryAttempts: 2, maxDelaySeconds: 5 }));
    await emu.client.injectFault({
      method: 'sendChatAction',
      chatId: USER.id,
      errorCode: 429,
      retryAfter: 1,
    });
    expect(await bot.api.sendChatAction(USER.id, 'typing')).toBe(true);
    const calls = await emu.client.calls({ method: 'sendChatAction', chatId: USER.id });
    expect(calls.map((c) => c.error_code ?? 200)).toEqual([429, 200]);
  });

  it('receives updates by long polling and answers them', async () => {
    const bot = newBot();
    bot.command('start', (ctx) => ctx.reply(`Welcome, ${ctx.from?.first_name}! payload=${ctx.match}`));
    bot.on('callback_query:data', async (ctx) => {
      await ctx.answerCallbackQuery({ text: `got ${ctx.callbackQuery.data}` });
      await ctx.editMessageText('pressed');
    });
    bot.on('message:text', (ctx) => ctx.reply(`echo: ${ctx.message.text}`));
    const running = bot.start({ drop_pending_updates: true, timeout: 5 });
    try {
      await emu.client.injectMessage({ user: USER, text: '/start ref_7' });
      const welcome = await emu.client.waitForBotMessage(
        USER.id,
        (m) => m.text?.startsWith('Welcome') === true,
      );
      expect(welcome.text).toBe('Welcome, Gram! payload=ref_7');

      await emu.client.injectMessage({ user: USER, text: 'hello' });
      await emu.client.waitForBotMessage(USER.id, (m) => m.text === 'echo: hello');

      await emu.client.injectCallbackQuery({ user: USER, message_id: welcome.message_id, data: 'go' });
      await emu.client.waitForBotMessage(
        USER.id,
        (m) => m.message_id === welcome.message_id && m.text === 'pressed',
      );
      expect(await emu.client.callbackAnswers()).toMatchObject([
        { text: 'got go', message_id: welcome.message_id },
      ]);
    } finally {
      await bot.stop();
      await running;
    }
    // grammY confirmed everything it handled on the way out.
    expect((await emu.client.stats()).pending_updates).toBe(0);
  });
});
