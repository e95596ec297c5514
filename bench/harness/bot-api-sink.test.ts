import { Bot } from 'grammy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BotApiSink, startBotApiSink } from './bot-api-sink.js';

describe('Bot API sink', () => {
  let sink: BotApiSink;
  let bot: Bot;
  beforeAll(async () => {
    sink = await startBotApiSink();
    bot = new Bot(sink.token, { client: { apiRoot: sink.apiRoot } });
  });
  afterAll(() => sink.close());

  it('answers grammY with valid results: the bot, messages, true', async () => {
    await bot.init();
    expect(bot.botInfo.is_bot).toBe(true);
    const sent = await bot.api.sendMessage(42, '<b>hi</b>', { parse_mode: 'HTML' });
    expect(sent).toMatchObject({ chat: { id: 42, type: 'private' }, text: '<b>hi</b>' });
    const edited = await bot.api.editMessageText(42, sent.message_id, 'edited');
    expect(edited).toMatchObject({ message_id: sent.message_id, text: 'edited' });
    expect(await bot.api.sendChatAction(42, 'typing')).toBe(true);
    expect(await bot.api.raw.sendMessageDraft({ chat_id: 42, draft_id: 1, text: 'dr' })).toBe(true);
    const group = await bot.api.sendMessage(-100, 'to a group');
    expect(group.chat.type).toBe('group');
    expect(sink.counts()).toMatchObject({ getMe: 1, sendMessage: 2, editMessageText: 1, sendChatAction: 1 });
  });

  it('hands the next matching call of a chat to whoever waits for it, and only that chat', async () => {
    const draft = sink.next(7, ['sendMessageDraft', 'sendMessage']);
    const final = sink.next(7, ['sendMessage']);
    await bot.api.sendMessage(8, 'another chat');
    await bot.api.raw.sendMessageDraft({ chat_id: 7, draft_id: 3, text: 'partial' });
    await bot.api.sendMessage(7, 'final');
    expect((await draft).method).toBe('sendMessageDraft');
    expect(await final).toMatchObject({ method: 'sendMessage', chatId: 7, params: { text: 'final' } });
  });

  it('gives up on a call that never comes', async () => {
    await expect(sink.next(9, ['sendMessage'], 50)).rejects.toThrow(/no sendMessage for chat 9/);
  });
});
