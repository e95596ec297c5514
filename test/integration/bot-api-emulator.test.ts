import type { Message, Update } from 'grammy/types';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type BotApiEmulator,
  createBotApiEmulator,
  type EmulatorEvent,
} from '../../src/dev/bot-api-emulator/index.js';

const TOKEN = '123456789:AAtestTOKENtestTOKENtestTOKENtest12';
const ANN = { id: 1001, first_name: 'Ann', username: 'ann_test', language_code: 'en' };
/** A valid 1×1 PNG. */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

interface ApiAnswer<T = unknown> {
  status: number;
  body: {
    ok: boolean;
    result?: T;
    error_code?: number;
    description?: string;
    parameters?: { retry_after?: number };
  };
}

let emu: BotApiEmulator;

async function api<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<ApiAnswer<T>> {
  const res = await fetch(`${emu.url}/bot${emu.token}/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(params),
  });
  return { status: res.status, body: (await res.json()) as ApiAnswer<T>['body'] };
}

async function ok<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
  const answer = await api<T>(method, params);
  expect(answer.body, `${method} ${answer.body.description ?? ''}`).toMatchObject({ ok: true });
  return answer.body.result as T;
}

beforeAll(async () => {
  emu = await createBotApiEmulator({ token: TOKEN, botUsername: 'test_bot' });
});
afterAll(async () => {
  await emu.close();
});
afterEach(async () => {
  await ok('deleteWebhook', { drop_pending_updates: true });
  await emu.client.reset();
});

describe('bot api wire format', () => {
  it('answers getMe as the configured bot and refuses another token with 401', async () => {
    const me = await ok<{ id: number; is_bot: boolean; username: string }>('getMe');
    expect(me).toMatchObject({ id: 123456789, is_bot: true, username: 'test_bot' });

    const res = await fetch(`${emu.url}/bot999:wrong/getMe`);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ ok: false, error_code: 401, description: 'Unauthorized' });
  });

  it('answers unknown methods with 404 Not Found and takes method names in any case', async () => {
    expect(await api('noSuchMethod')).toEqual({
      status: 404,
      body: { ok: false, error_code: 404, description: 'Not Found' },
    });
    const res = await fetch(`${emu.url}/bot${emu.token}/GETME`);
    expect(((await res.json()) as { ok: boolean }).ok).toBe(true);
  });

  it('reads parameters from the query string and urlencoded bodies', async () => {
    const viaQuery = await fetch(`${emu.url}/bot${emu.token}/sendMessage?chat_id=5&text=hi%20there`);
    expect(((await viaQuery.json()) as { result: Message }).result).toMatchObject({
      chat: { id: 5 },
      text: 'hi there',
    });

    const viaForm = await fetch(`${emu.url}/bot${emu.token}/sendMessage`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        chat_id: '5',
        text: '<b>bold</b>',
        parse_mode: 'HTML',
        reply_markup: JSON.stringify({ inline_keyboard: [[{ text: 'Go', callback_data: 'go' }]] }),
      }),
    });
    const sent = ((await viaForm.json()) as { result: Message & { text: string } }).result;
    expect(sent.text).toBe('bold');
    expect(sent.reply_markup).toEqual({ inline_keyboard: [[{ text: 'Go', callback_data: 'go' }]] });
  });
});

describe('getUpdates', () => {
  it('long-polls until an update is injected and confirms updates with offset', async () => {
    const poll = api<Update[]>('getUpdates', { timeout: 20 });
    // The poll is waiting now; the injected update must end it.
    await expect.poll(() => emu.core.queue.waiting).toBe(1);
    const injected = await emu.client.injectMessage({ user: ANN, text: '/start ref_42' });
    const first = await poll;
    expect(first.body.result).toEqual([injected]);
    expect(injected.message).toMatchObject({
      text: '/start ref_42',
      entities: [{ type: 'bot_command', offset: 0, length: 6 }],
      from: { id: ANN.id, is_bot: false, first_name: 'Ann' },
      chat: { id: ANN.id, type: 'private' },
    });

    // Not confirmed yet: it comes again.
    expect(await ok<Update[]>('getUpdates', { timeout: 0 })).toEqual([injected]);
    const second = await emu.client.injectMessage({ user: ANN, text: 'two' });
    expect(second.update_id).toBe(injected.update_id + 1);
    // offset = last + 1 confirms the first update only.
    expect(await ok<Update[]>('getUpdates', { offset: injected.update_id + 1 })).toEqual([second]);
    expect(await ok<Update[]>('getUpdates', { offset: second.update_id + 1 })).toEqual([]);
    expect((await emu.client.stats()).pending_updates).toBe(0);
  });

  it('honours limit, negative offsets and injected duplicate update ids', async () => {
    const a = await emu.client.injectMessage({ user: ANN, text: 'a' });
    const b = await emu.client.injectMessage({ user: ANN, text: 'b' });
    const c = await emu.client.injectMessage({ user: ANN, text: 'c' });
    expect(await ok<Update[]>('getUpdates', { limit: 2 })).toEqual([a, b]);
    expect(await ok<Update[]>('getUpdates', { offset: -1 })).toEqual([c]);

    const duplicate = await emu.client.injectUpdate({ ...c });
    expect(duplicate.update_id).toBe(c.update_id);
    // The duplicate was never handed out, so confirming c does not swallow it.
    expect(await ok<Update[]>('getUpdates', { offset: c.update_id + 1 })).toEqual([duplicate]);
  });

  it('drops update types outside allowed_updates', async () => {
    await ok('getUpdates', { allowed_updates: ['callback_query'] });
    await emu.client.injectMessage({ user: ANN, text: 'ignored' });
    expect(await ok<Update[]>('getUpdates')).toEqual([]);
    const log = await emu.client.updates();
    expect(log.at(-1)).toMatchObject({ filtered: true, delivered: false });
    // An empty list means Telegram's default again.
    await ok('getUpdates', { allowed_updates: [] });
  });

  it('ends an older waiting poll with 409 when another one starts', async () => {
    const first = api('getUpdates', { timeout: 20 });
    await expect.poll(() => emu.core.queue.waiting).toBe(1);
    const second = api('getUpdates', { timeout: 0 });
    expect((await first).body).toMatchObject({ ok: false, error_code: 409 });
    expect((await first).body.description).toMatch(/^Conflict: terminated by other getUpdates request/);
    expect((await second).body.ok).toBe(true);
  });
});

describe('sendMessage and edits', () => {
  it('parses Telegram HTML into text and entities and returns a full Message', async () => {
    const sent = await ok<Message & { text: string }>('sendMessage', {
      chat_id: 77,
      text: '  <b>Hello</b>, <a href="https://example.com">world</a>!  ',
      parse_mode: 'HTML',
      reply_markup: { inline_keyboard: [[{ text: 'More', callback_data: 'more' }]] },
      link_preview_options: { is_disabled: true },
    });
    expect(sent).toMatchObject({
      message_id: 1,
      from: { id: 123456789, is_bot: true, username: 'test_bot' },
      chat: { id: 77, type: 'private' },
      text: 'Hello, world!',
      entities: [
        { type: 'bold', offset: 0, length: 5 },
        { type: 'text_link', offset: 7, length: 5, url: 'https://example.com/' },
      ],
      link_preview_options: { is_disabled: true },
      reply_markup: { inline_keyboard: [[{ text: 'More', callback_data: 'more' }]] },
    });
    expect(typeof sent.date).toBe('number');
    const next = await ok<Message>('sendMessage', { chat_id: 77, text: 'again' });
    expect(next.message_id).toBe(2);
  });

  it('refuses what Telegram refuses, with its descriptions', async () => {
    expect(
      (await api('sendMessage', { chat_id: 77, text: '<foo>x</foo>', parse_mode: 'HTML' })).body,
    ).toEqual({
      ok: false,
      error_code: 400,
      description: 'Bad Request: can\'t parse entities: Unsupported start tag "foo" at byte offset 0',
    });
    expect((await api('sendMessage', { chat_id: 77, text: '   ' })).body.description).toBe(
      'Bad Request: message text is empty',
    );
    expect(
      (await api('sendMessage', { chat_id: 77, text: '<b></b>', parse_mode: 'HTML' })).body.description,
    ).toBe('Bad Request: message text is empty');
    expect((await api('sendMessage', { text: 'x' })).body.description).toBe('Bad Request: chat_id is empty');
    expect((await api('sendMessage', { chat_id: -100500, text: 'x' })).body.description).toBe(
      'Bad Request: chat not found',
    );
    const callbackTooLong = { inline_keyboard: [[{ text: 'x', callback_data: 'y'.repeat(65) }]] };
    expect(
      (await api('sendMessage', { chat_id: 77, text: 'x', reply_markup: callbackTooLong })).body.description,
    ).toBe('Bad Request: BUTTON_DATA_INVALID');
  });

  it('counts the length of the parsed text in UTF-16 code units', async () => {
    // 4096 visible characters are fine even with markup around them; one more is not.
    const full = `<b>${'a'.repeat(4096)}</b>`;
    expect((await api('sendMessage', { chat_id: 77, text: full, parse_mode: 'HTML' })).body.ok).toBe(true);
    const tooLong = await api('sendMessage', {
      chat_id: 77,
      text: `${'a'.repeat(4095)}😀`,
      parse_mode: 'HTML',
    });
    expect(tooLong.body.description).toBe('Bad Request: message is too long');
  });

  it('edits in place, keeps the history and refuses an edit that changes nothing', async () => {
    const keyboard = { inline_keyboard: [[{ text: 'A', callback_data: 'a' }]] };
    const sent = await ok<Message>('sendMessage', {
      chat_id: 77,
      text: '<b>v1</b>',
      parse_mode: 'HTML',
      reply_markup: keyboard,
    });
    const same = await api('editMessageText', {
      chat_id: 77,
      message_id: sent.message_id,
      text: '<b>v1</b>',
      parse_mode: 'HTML',
      reply_markup: keyboard,
    });
    expect(same.body).toEqual({
      ok: false,
      error_code: 400,
      description:
        'Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message',
    });

    // Without reply_markup the keyboard goes away, so this is a modification.
    const edited = await ok<Message & { text: string }>('editMessageText', {
      chat_id: 77,
      message_id: sent.message_id,
      text: '<b>v1</b>',
      parse_mode: 'HTML',
    });
    expect(edited.reply_markup).toBeUndefined();
    expect(typeof edited.edit_date).toBe('number');
    await ok('editMessageText', { chat_id: 77, message_id: sent.message_id, text: 'v2' });
    await ok('editMessageReplyMarkup', { chat_id: 77, message_id: sent.message_id, reply_markup: keyboard });
    expect(
      (
        await api('editMessageReplyMarkup', {
          chat_id: 77,
          message_id: sent.message_id,
          reply_markup: keyboard,
        })
      ).body.description,
    ).toMatch(/^Bad Request: message is not modified/);

    const [message] = await emu.client.botMessages(77);
    expect(message).toMatchObject({ text: 'v2', reply_markup: keyboard, deleted: false });
    expect(message?.history.map((h) => h.text)).toEqual(['v1', 'v1', 'v2']);
    expect(message?.history[0]?.reply_markup).toEqual(keyboard);

    expect((await api('editMessageText', { chat_id: 77, message_id: 999, text: 'x' })).body.description).toBe(
      'Bad Request: message to edit not found',
    );
  });

  it('deletes messages and checks replies', async () => {
    const sent = await ok<Message>('sendMessage', { chat_id: 77, text: 'bye' });
    expect(await ok('deleteMessage', { chat_id: 77, message_id: sent.message_id })).toBe(true);
    expect((await api('deleteMessage', { chat_id: 77, message_id: sent.message_id })).body.description).toBe(
      'Bad Request: message to delete not found',
    );
    const view = await emu.client.conversation(77);
    expect(view.messages[0]).toMatchObject({ message_id: sent.message_id, deleted: true });

    expect(
      (await api('sendMessage', { chat_id: 77, text: 'x', reply_parameters: { message_id: 50 } })).body
        .description,
    ).toBe('Bad Request: message to be replied not found');
    const user = await emu.client.injectMessage({ user: { id: 77, first_name: 'Bo' }, text: 'question' });
    const reply = await ok<Message>('sendMessage', {
      chat_id: 77,
      text: 'answer',
      reply_parameters: { message_id: user.message?.message_id },
    });
    expect(reply.reply_to_message).toMatchObject({ message_id: user.message?.message_id, text: 'question' });
  });
});

describe('drafts, chat actions, commands', () => {
  it('records every draft state per chat and draft id, in private chats only', async () => {
    for (const text of ['Hel', 'Hello', 'Hello <b>world</b>']) {
      expect(await ok('sendMessageDraft', { chat_id: 77, draft_id: 5, text, parse_mode: 'HTML' })).toBe(true);
    }
    expect((await api('sendMessageDraft', { chat_id: 77, draft_id: 0, text: 'x' })).body.ok).toBe(false);
    expect((await api('sendMessageDraft', { chat_id: -100, draft_id: 1, text: 'x' })).body.ok).toBe(false);

    const [draft] = await emu.client.drafts(77);
    expect(draft).toMatchObject({ chat_id: 77, draft_id: 5, text: 'Hello world', active: true });
    expect(draft?.states.map((s) => s.text)).toEqual(['Hel', 'Hello', 'Hello world']);
    expect(draft?.entities).toEqual([{ type: 'bold', offset: 6, length: 5 }]);

    await ok('sendMessage', { chat_id: 77, text: 'Hello world' });
    expect((await emu.client.drafts(77))[0]?.active).toBe(false);
  });

  it('records chat actions and refuses unknown ones', async () => {
    expect(await ok('sendChatAction', { chat_id: 77, action: 'typing' })).toBe(true);
    expect((await api('sendChatAction', { chat_id: 77, action: 'dancing' })).body.description).toBe(
      'Bad Request: wrong parameter action in request',
    );
    expect(await emu.client.chatActions(77)).toMatchObject([{ chat_id: 77, action: 'typing' }]);
  });

  it('keeps commands per scope and language', async () => {
    const en = [{ command: 'start', description: 'Start' }];
    const ru = [{ command: 'start', description: 'Начать' }];
    await ok('setMyCommands', { commands: en });
    await ok('setMyCommands', { commands: ru, language_code: 'ru', scope: { type: 'all_private_chats' } });
    expect(await ok('getMyCommands')).toEqual(en);
    expect(await ok('getMyCommands', { language_code: 'ru', scope: { type: 'all_private_chats' } })).toEqual(
      ru,
    );
    expect(await ok('getMyCommands', { language_code: 'ru' })).toEqual([]);
    expect(
      (await api('setMyCommands', { commands: [{ command: 'Bad Command', description: 'x' }] })).body.ok,
    ).toBe(false);
    await ok('deleteMyCommands');
    expect(await ok('getMyCommands')).toEqual([]);
    expect(await emu.client.commands()).toHaveLength(1);
  });
});

describe('flood control, blocked users and injected failures', () => {
  it('answers 429 with retry_after per chat after the burst, other chats unaffected', async () => {
    // A slow refill keeps the third call limited however slow the machine is.
    await emu.client.setFloodLimits({ perChatPerSecond: 0.2, perChatBurst: 2 });
    expect((await api('sendMessage', { chat_id: 10, text: '1' })).status).toBe(200);
    expect((await api('sendMessage', { chat_id: 10, text: '2' })).status).toBe(200);
    const limited = await api('sendMessage', { chat_id: 10, text: '3' });
    expect(limited.status).toBe(429);
    expect(limited.body.parameters?.retry_after).toBeGreaterThanOrEqual(1);
    expect(Number.isInteger(limited.body.parameters?.retry_after)).toBe(true);
    expect(limited.body.description).toBe(
      `Too Many Requests: retry after ${limited.body.parameters?.retry_after}`,
    );
    expect((await api('sendMessage', { chat_id: 11, text: '1' })).status).toBe(200);
    // Reads and chat actions are not flood-limited.
    expect((await api('sendChatAction', { chat_id: 10, action: 'typing' })).status).toBe(200);
    expect((await emu.client.stats()).too_many_requests).toBe(1);
  });

  it('applies a global limit over all chats', async () => {
    await emu.client.setFloodLimits({ globalPerSecond: 3 });
    const statuses: number[] = [];
    for (let chat = 1; chat <= 5; chat++)
      statuses.push((await api('sendMessage', { chat_id: chat, text: 'x' })).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(2);
  });

  it('fails the next N matching calls with an injected error', async () => {
    await emu.client.injectFault({
      method: 'sendMessage',
      chatId: 20,
      count: 2,
      errorCode: 429,
      retryAfter: 7,
    });
    await emu.client.injectFault({ method: 'editMessageText', errorCode: 500 });
    expect((await api('sendMessage', { chat_id: 21, text: 'x' })).status).toBe(200);
    const first = await api('sendMessage', { chat_id: 20, text: 'x' });
    expect(first).toEqual({
      status: 429,
      body: {
        ok: false,
        error_code: 429,
        description: 'Too Many Requests: retry after 7',
        parameters: { retry_after: 7 },
      },
    });
    expect((await api('sendMessage', { chat_id: 20, text: 'x' })).status).toBe(429);
    expect((await api('sendMessage', { chat_id: 20, text: 'x' })).status).toBe(200);
    const edit = await api('editMessageText', { chat_id: 20, message_id: 1, text: 'y' });
    expect(edit.body).toEqual({ ok: false, error_code: 500, description: 'Internal Server Error' });
    expect(await emu.client.faults()).toEqual([]);
  });

  it('lets the first `skip` matching calls through before failing', async () => {
    await emu.client.injectFault({ method: 'sendMessage', chatId: 22, skip: 2, errorCode: 502 });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await api('sendMessage', { chat_id: 22, text: 'x' })).status);
    expect(statuses).toEqual([200, 200, 502, 200]);
    await expect(emu.client.injectFault({ skip: -1, errorCode: 500 })).rejects.toThrow(/skip/);
    await expect(emu.client.injectFault({ method: 'sendMessage' })).rejects.toThrow(/errorCode or delayMs/);
  });

  it('answers late but correctly under a delay-only fault, and records the fault', async () => {
    await emu.client.injectFault({ method: 'sendMessage', delayMs: 50 });
    expect((await api('sendMessage', { chat_id: 23, text: 'slow' })).status).toBe(200);
    const [call] = await emu.client.calls({ method: 'sendMessage', chatId: 23 });
    expect(call).toMatchObject({ ok: true, fault: { applied: false } });
    expect(await emu.client.botMessages(23)).toHaveLength(1);
  });

  it('answers 403 for users who blocked the bot until they unblock it', async () => {
    await emu.client.blockUser(30, { notify: true });
    const blocked = await api('sendMessage', { chat_id: 30, text: 'x' });
    expect(blocked).toEqual({
      status: 403,
      body: { ok: false, error_code: 403, description: 'Forbidden: bot was blocked by the user' },
    });
    expect((await api('sendChatAction', { chat_id: 30, action: 'typing' })).status).toBe(403);
    expect((await emu.client.stats()).forbidden).toBe(2);
    const [update] = await ok<Update[]>('getUpdates');
    expect(update?.my_chat_member?.new_chat_member.status).toBe('kicked');
    await emu.client.unblockUser(30);
    expect((await api('sendMessage', { chat_id: 30, text: 'x' })).status).toBe(200);
  });
});

describe('photos', () => {
  it('takes an uploaded file through multipart with attach:// and JSON fields', async () => {
    const form = new FormData();
    form.set('chat_id', '40');
    form.set('photo', 'attach://file0');
    form.set('caption', '<i>nice</i>');
    form.set('parse_mode', 'HTML');
    form.set(
      'reply_markup',
      JSON.stringify({ inline_keyboard: [[{ text: 'Again', callback_data: 'again' }]] }),
    );
    form.set('file0', new Blob([PNG], { type: 'image/png' }), 'pic.png');
    const res = await fetch(`${emu.url}/bot${emu.token}/sendPhoto`, { method: 'POST', body: form });
    const body = (await res.json()) as {
      ok: boolean;
      result: Message & { photo: { file_id: string; width: number }[] };
    };
    expect(body.ok).toBe(true);
    expect(body.result).toMatchObject({
      caption: 'nice',
      caption_entities: [{ type: 'italic', offset: 0, length: 4 }],
      reply_markup: { inline_keyboard: [[{ text: 'Again', callback_data: 'again' }]] },
    });
    const largest = body.result.photo.at(-1)!;
    expect(largest).toMatchObject({ width: 1, height: 1, file_size: PNG.length });

    const [call] = await emu.client.calls({ method: 'sendPhoto' });
    expect(call?.params).toMatchObject({
      chat_id: 40,
      photo: { upload: { filename: 'pic.png', size: PNG.length } },
      reply_markup: { inline_keyboard: [[{ text: 'Again', callback_data: 'again' }]] },
    });

    // The same file again by file_id, and downloadable like from Telegram.
    await ok('sendPhoto', { chat_id: 40, photo: largest.file_id });
    const file = await ok<{ file_path: string }>('getFile', { file_id: largest.file_id });
    const download = await fetch(`${emu.url}/file/bot${emu.token}/${file.file_path}`);
    expect(Buffer.from(await download.arrayBuffer())).toEqual(PNG);
  });

  it('accepts an HTTP URL, refuses unknown ids, undecodable images and long captions', async () => {
    const byUrl = await ok<Message>('sendPhoto', { chat_id: 40, photo: 'https://example.com/cat.jpg' });
    expect(byUrl.photo?.length).toBeGreaterThan(0);
    expect((await api('sendPhoto', { chat_id: 40, photo: 'AgACnotAnId' })).body.description).toBe(
      'Bad Request: wrong file identifier/HTTP URL specified',
    );
    expect((await api('sendPhoto', { chat_id: 40 })).body.description).toBe(
      'Bad Request: there is no photo in the request',
    );
    expect(
      (await api('sendPhoto', { chat_id: 40, photo: 'https://example.com/a.jpg', caption: 'c'.repeat(1025) }))
        .body.description,
    ).toBe('Bad Request: message caption is too long');

    const form = new FormData();
    form.set('chat_id', '40');
    form.set('photo', new Blob([Buffer.from('not an image')]), 'x.png');
    const res = await fetch(`${emu.url}/bot${emu.token}/sendPhoto`, { method: 'POST', body: form });
    expect(await res.json()).toMatchObject({ ok: false, description: 'Bad Request: IMAGE_PROCESS_FAILED' });
  });
});

describe('payments and callbacks through the control API', () => {
  it('round-trips a callback query and its answer', async () => {
    const sent = await ok<Message>('sendMessage', {
      chat_id: ANN.id,
      text: 'Pick',
      reply_markup: { inline_keyboard: [[{ text: 'One', callback_data: 'one' }]] },
    });
    const update = await emu.client.injectCallbackQuery({
      user: ANN,
      message_id: sent.message_id,
      data: 'one',
    });
    const query = update.callback_query!;
    expect(query).toMatchObject({
      data: 'one',
      from: { id: ANN.id },
      message: { message_id: sent.message_id, text: 'Pick' },
    });
    expect(
      await ok('answerCallbackQuery', { callback_query_id: query.id, text: 'Done', show_alert: true }),
    ).toBe(true);
    expect((await api('answerCallbackQuery', { callback_query_id: query.id })).body.description).toBe(
      'Bad Request: query is too old and response timeout expired or query ID is invalid',
    );
    expect(await emu.client.callbackAnswers()).toMatchObject([
      {
        callback_query_id: query.id,
        text: 'Done',
        show_alert: true,
        chat_id: ANN.id,
        message_id: sent.message_id,
      },
    ]);
  });

  it('sends Stars invoices, answers pre-checkout queries and refunds payments once', async () => {
    const prices = [{ label: 'Premium', amount: 250 }];
    const invoice = await ok<Message>('sendInvoice', {
      chat_id: ANN.id,
      title: 'Premium',
      description: '30 days',
      payload: 'plan:premium',
      currency: 'XTR',
      prices,
    });
    expect(invoice.invoice).toEqual({
      title: 'Premium',
      description: '30 days',
      start_parameter: '',
      currency: 'XTR',
      total_amount: 250,
    });
    const link = await ok<string>('createInvoiceLink', {
      title: 'Premium',
      description: '30 days',
      payload: 'plan:premium',
      currency: 'XTR',
      prices,
      subscription_period: 2592000,
    });
    expect(link).toMatch(/^https:\/\/t\.me\/\$/);
    expect(
      (
        await api('sendInvoice', {
          chat_id: ANN.id,
          title: 'x',
          description: 'y',
          payload: 'z',
          currency: 'XTR',
          prices: [...prices, ...prices],
        })
      ).body.ok,
    ).toBe(false);
    expect((await emu.client.invoices()).map((i) => i.kind)).toEqual(['message', 'link']);

    const pre = await emu.client.injectPreCheckoutQuery({
      user: ANN,
      invoice_payload: 'plan:premium',
      total_amount: 250,
    });
    expect(pre.pre_checkout_query).toMatchObject({
      currency: 'XTR',
      total_amount: 250,
      invoice_payload: 'plan:premium',
    });
    expect(
      await ok('answerPreCheckoutQuery', { pre_checkout_query_id: pre.pre_checkout_query?.id, ok: true }),
    ).toBe(true);
    expect(await emu.client.preCheckoutAnswers()).toMatchObject([{ ok: true }]);

    const paid = await emu.client.injectSuccessfulPayment({
      user: ANN,
      invoice_payload: 'plan:premium',
      total_amount: 250,
      telegram_payment_charge_id: 'charge-1',
    });
    expect(paid.message?.successful_payment).toMatchObject({
      telegram_payment_charge_id: 'charge-1',
      total_amount: 250,
    });
    expect(await ok('refundStarPayment', { user_id: ANN.id, telegram_payment_charge_id: 'charge-1' })).toBe(
      true,
    );
    expect(
      (await api('refundStarPayment', { user_id: ANN.id, telegram_payment_charge_id: 'charge-1' })).body
        .description,
    ).toBe('Bad Request: CHARGE_ALREADY_REFUNDED');
    expect(await emu.client.refunds()).toMatchObject([
      { user_id: ANN.id, telegram_payment_charge_id: 'charge-1' },
    ]);
  });

  it('creates groups from injected updates and lets the bot answer there', async () => {
    await emu.client.injectMessage({
      user: ANN,
      text: 'hi all',
      chat: { id: -1001234, type: 'supergroup', title: 'Testers' },
    });
    const sent = await ok<Message>('sendMessage', { chat_id: -1001234, text: 'hello group' });
    expect(sent.chat).toEqual({ id: -1001234, type: 'supergroup', title: 'Testers' });
    expect(sent.message_id).toBe(2);
    expect(await ok('getChat', { chat_id: -1001234 })).toMatchObject({
      id: -1001234,
      type: 'supergroup',
      title: 'Testers',
    });
  });
});

describe('events and records', () => {
  it('streams what happens in a chat as Server-Sent Events', async () => {
    const abort = new AbortController();
    const received: EmulatorEvent[] = [];
    const done = (async () => {
      for await (const event of emu.client.events({ chatId: 50, signal: abort.signal })) {
        received.push(event);
        if (event.type === 'message_deleted') abort.abort();
      }
    })();
    // The stream is open once the hub has a listener.
    await expect.poll(() => emu.core.events.size).toBeGreaterThan(0);

    await emu.client.injectMessage({ user: { id: 51, first_name: 'Other' }, text: 'not this chat' });
    await emu.client.injectMessage({ user: { id: 50, first_name: 'Cy' }, text: 'hi' });
    await ok('sendChatAction', { chat_id: 50, action: 'typing' });
    await ok('sendMessageDraft', { chat_id: 50, draft_id: 1, text: 'thinking' });
    const sent = await ok<Message>('sendMessage', { chat_id: 50, text: 'answer' });
    await ok('editMessageText', { chat_id: 50, message_id: sent.message_id, text: 'better answer' });
    await ok('deleteMessage', { chat_id: 50, message_id: sent.message_id });
    await done;

    expect(received.map((e) => e.type)).toEqual([
      'update',
      'chat_action',
      'draft',
      'message',
      'message_edited',
      'message_deleted',
    ]);
    expect(received.every((e) => e.chat_id === 50)).toBe(true);
    expect(received[3]?.data.message).toMatchObject({ text: 'answer' });
    expect(received[4]?.data.message).toMatchObject({ text: 'better answer' });
  });

  it('records every call in order with filters, counts them and resets', async () => {
    await ok('sendMessage', { chat_id: 60, text: 'a' });
    await ok('sendMessage', { chat_id: 61, text: 'b' });
    await api('sendMessage', { chat_id: 60, text: '' });
    const calls = await emu.client.calls({ method: 'sendMessage', chatId: 60 });
    expect(calls.map((c) => [c.params.text, c.ok])).toEqual([
      ['a', true],
      ['', false],
    ]);
    expect(calls[1]).toMatchObject({ error_code: 400, description: 'Bad Request: message text is empty' });
    expect(await emu.client.calls({ since: calls[0]!.seq, chatId: 61 })).toHaveLength(1);
    const stats = await emu.client.stats();
    expect(stats.calls_by_method.sendMessage).toBe(3);
    expect(stats.messages_sent).toBe(2);

    await emu.client.reset();
    expect(await emu.client.calls()).toEqual([]);
    expect(await emu.client.chats()).toEqual([]);
  });
});
