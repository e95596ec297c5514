import type { InlineKeyboardMarkup, LinkPreviewOptions, Message } from 'grammy/types';
import { badRequest, NOT_MODIFIED, queryInvalid } from '../bot-api-error.js';
import { readReplyMarkup, sameJson } from '../reply-markup.js';
import { type ChatState, toMessage } from '../state-store.js';
import { readTextContent, textFields } from '../text-content.js';
import type { ConversationMessage, MessageVersion } from '../types.js';
import {
  type MethodContext,
  type MethodTable,
  requireChat,
  sendBotMessage,
  unixNow,
} from './method-context.js';

function linkPreview(ctx: MethodContext): { link_preview_options?: LinkPreviewOptions } {
  const opts = ctx.params.json<LinkPreviewOptions>(
    'link_preview_options',
    "can't parse link preview options JSON object",
  );
  if (opts && Object.keys(opts).length > 0) return { link_preview_options: opts };
  return ctx.params.bool('disable_web_page_preview') ? { link_preview_options: { is_disabled: true } } : {};
}

function sendMessage(ctx: MethodContext): Message {
  const state = requireChat(ctx);
  const content = readTextContent(ctx.params, 'text')!;
  const markup = readReplyMarkup(ctx.params);
  const preview = linkPreview(ctx);
  return sendBotMessage(ctx, state, { ...textFields(content, 'text'), ...preview }, markup);
}

/** The bot's own message to edit, or Telegram's error for why it cannot be edited. */
function editable(ctx: MethodContext): { state: ChatState; msg: ConversationMessage } {
  const state = requireChat(ctx);
  const messageId = ctx.params.requireInt('message_id', 'message identifier is not specified');
  const msg = ctx.store.findMessage(state.chat.id, messageId);
  if (!msg) throw badRequest('message to edit not found');
  if (!msg.outgoing) throw badRequest("message can't be edited");
  return { state, msg };
}

function inlineMarkup(ctx: MethodContext): InlineKeyboardMarkup | undefined {
  const markup = readReplyMarkup(ctx.params);
  if (markup && markup.kind !== 'inline') throw badRequest("can't parse inline keyboard markup JSON object");
  return markup?.kind === 'inline' ? markup.markup : undefined;
}

function snapshot(msg: ConversationMessage): MessageVersion {
  const v: MessageVersion = {};
  if (msg.text !== undefined) v.text = msg.text;
  if (msg.entities) v.entities = msg.entities;
  if (msg.caption !== undefined) v.caption = msg.caption;
  if (msg.caption_entities) v.caption_entities = msg.caption_entities;
  if (msg.reply_markup) v.reply_markup = msg.reply_markup;
  if (msg.edit_date !== undefined) v.edit_date = msg.edit_date;
  return v;
}

/** Applies an edit (or refuses it as "not modified") and announces it. */
function commitEdit(
  ctx: MethodContext,
  msg: ConversationMessage,
  next: Partial<Pick<Message, 'text' | 'entities' | 'caption' | 'caption_entities'>>,
  markup: InlineKeyboardMarkup | undefined,
): Message {
  const fields = Object.keys(next) as (keyof typeof next)[];
  const same = fields.every((k) => sameJson(msg[k], next[k])) && sameJson(msg.reply_markup, markup);
  if (same) throw badRequest(NOT_MODIFIED);
  const m = msg as unknown as Record<string, unknown>;
  msg.history.push(snapshot(msg));
  for (const k of fields) {
    if (next[k] === undefined) delete m[k];
    else m[k] = next[k];
  }
  if (markup) msg.reply_markup = markup;
  else delete m.reply_markup;
  msg.edit_date = unixNow();
  const message = toMessage(msg);
  ctx.events.emit('message_edited', msg.chat.id, { message });
  return message;
}

function editMessageText(ctx: MethodContext): Message | true {
  if (ctx.params.has('inline_message_id')) {
    readTextContent(ctx.params, 'text');
    return true;
  }
  const { msg } = editable(ctx);
  if (msg.text === undefined) throw badRequest('there is no text in the message to edit');
  const content = readTextContent(ctx.params, 'text')!;
  const markup = inlineMarkup(ctx);
  return commitEdit(
    ctx,
    msg,
    { text: content.text, entities: content.entities.length ? content.entities : undefined },
    markup,
  );
}

function editMessageCaption(ctx: MethodContext): Message | true {
  if (ctx.params.has('inline_message_id')) return true;
  const { msg } = editable(ctx);
  if (msg.text !== undefined) throw badRequest('there is no caption in the message to edit');
  const content = readTextContent(ctx.params, 'caption');
  const markup = inlineMarkup(ctx);
  const caption = content && content.text !== '' ? content : undefined;
  return commitEdit(
    ctx,
    msg,
    { caption: caption?.text, caption_entities: caption?.entities.length ? caption.entities : undefined },
    markup,
  );
}

function editMessageReplyMarkup(ctx: MethodContext): Message | true {
  if (ctx.params.has('inline_message_id')) return true;
  const { msg } = editable(ctx);
  return commitEdit(ctx, msg, {}, inlineMarkup(ctx));
}

function deleteMessage(ctx: MethodContext): true {
  const state = requireChat(ctx);
  const messageId = ctx.params.requireInt('message_id', 'message identifier is not specified');
  const msg = ctx.store.findMessage(state.chat.id, messageId);
  if (!msg) throw badRequest('message to delete not found');
  msg.deleted = true;
  msg.deleted_at = Date.now();
  ctx.events.emit('message_deleted', state.chat.id, { message_id: messageId });
  return true;
}

function deleteMessages(ctx: MethodContext): true {
  const state = requireChat(ctx);
  const ids = ctx.params.json<number[]>('message_ids', "can't parse message identifiers JSON object");
  if (!Array.isArray(ids) || ids.length === 0 || ids.length > 100)
    throw badRequest('message identifiers are not specified');
  for (const id of ids) {
    const msg = ctx.store.findMessage(state.chat.id, Number(id));
    if (!msg) continue;
    msg.deleted = true;
    msg.deleted_at = Date.now();
    ctx.events.emit('message_deleted', state.chat.id, { message_id: msg.message_id });
  }
  return true;
}

const CHAT_ACTIONS = new Set([
  'typing',
  'upload_photo',
  'record_video',
  'upload_video',
  'record_voice',
  'upload_voice',
  'upload_document',
  'choose_sticker',
  'find_location',
  'record_video_note',
  'upload_video_note',
]);

function sendChatAction(ctx: MethodContext): true {
  const state = requireChat(ctx);
  const action = ctx.params.string('action');
  if (!action || !CHAT_ACTIONS.has(action)) throw badRequest('wrong parameter action in request');
  const threadId = ctx.params.int('message_thread_id');
  const record = {
    chat_id: state.chat.id,
    action,
    ...(threadId !== undefined ? { message_thread_id: threadId } : {}),
    at: Date.now(),
  };
  ctx.store.addChatAction(state, record);
  ctx.events.emit('chat_action', state.chat.id, {
    action,
    ...(threadId !== undefined ? { message_thread_id: threadId } : {}),
  });
  return true;
}

/** Bot API 9.x: streams a partial message into a private chat; each state is kept for tests. */
function sendMessageDraft(ctx: MethodContext): true {
  const chatId = ctx.params.chatId();
  if (chatId === undefined) throw badRequest('chat_id is empty');
  if (typeof chatId !== 'number' || chatId <= 0) throw badRequest('TEXTDRAFT_PEER_INVALID');
  const draftId = ctx.params.int('draft_id');
  if (draftId === undefined || draftId === 0) throw badRequest('DRAFT_ID_INVALID');
  const state = ctx.store.chat(chatId);
  const content = readTextContent(ctx.params, 'draft')!;
  const threadId = ctx.params.int('message_thread_id');
  const entities = content.entities.length ? content.entities : undefined;
  ctx.store.putDraft(state, {
    draft_id: draftId,
    text: content.text,
    entities,
    ...(threadId !== undefined ? { message_thread_id: threadId } : {}),
  });
  ctx.events.emit('draft', chatId, {
    draft_id: draftId,
    text: content.text,
    ...(entities ? { entities } : {}),
  });
  return true;
}

function answerCallbackQuery(ctx: MethodContext): true {
  const id = ctx.params.string('callback_query_id') ?? '';
  const query = ctx.store.callbackQueries.get(id);
  if (!query || query.answered) throw queryInvalid();
  const text = ctx.params.string('text');
  if (text !== undefined && text.length > 200) throw badRequest('MESSAGE_TOO_LONG');
  query.answered = true;
  const url = ctx.params.string('url');
  const cacheTime = ctx.params.int('cache_time');
  const record = {
    callback_query_id: id,
    ...(query.chat_id !== undefined ? { chat_id: query.chat_id } : {}),
    ...(query.message_id !== undefined ? { message_id: query.message_id } : {}),
    ...(text ? { text } : {}),
    show_alert: ctx.params.bool('show_alert') ?? false,
    ...(url ? { url } : {}),
    ...(cacheTime !== undefined ? { cache_time: cacheTime } : {}),
    at: Date.now(),
  };
  ctx.store.callbackAnswers.push(record);
  ctx.events.emit('callback_answer', query.chat_id, record);
  return true;
}

export const messageMethods: MethodTable = {
  sendMessage,
  editMessageText,
  editMessageCaption,
  editMessageReplyMarkup,
  deleteMessage,
  deleteMessages,
  sendChatAction,
  sendMessageDraft,
  answerCallbackQuery,
};
