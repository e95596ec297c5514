import type { InlineKeyboardMarkup, Message, ReplyParameters } from 'grammy/types';
import { badRequest } from '../bot-api-error.js';
import type { EventHub } from '../event-hub.js';
import type { Params } from '../params.js';
import type { PaymentFlows } from '../payment-flows.js';
import type { ReplyMarkupInput } from '../reply-markup.js';
import { type ChatState, type StateStore, toMessage } from '../state-store.js';
import type { ConversationMessage } from '../types.js';
import type { UpdateQueue } from '../update-queue.js';
import type { WebhookDelivery } from '../webhook-delivery.js';

/** What a Bot API method implementation gets. */
export interface MethodContext {
  params: Params;
  store: StateStore;
  queue: UpdateQueue;
  webhook: WebhookDelivery;
  events: EventHub;
  payments: PaymentFlows;
  /** Runs `cb` when the client goes away before the answer (for the getUpdates long poll). */
  onClientClose(cb: () => void): void;
}

export type MethodHandler = (ctx: MethodContext) => unknown;
export type MethodTable = Record<string, MethodHandler>;

export const unixNow = (): number => Math.floor(Date.now() / 1000);

export function requireChat(ctx: MethodContext): ChatState {
  const chatId = ctx.params.chatId();
  if (chatId === undefined) throw badRequest('chat_id is empty');
  return ctx.store.chat(chatId);
}

/** The fields every message the bot sends starts with, including the reply it quotes. */
function baseMessage(ctx: MethodContext, state: ChatState, messageId: number): Message {
  const { params } = ctx;
  const threadId = params.int('message_thread_id');
  const reply = repliedMessage(ctx, state);
  return {
    message_id: messageId,
    from: ctx.store.botSender(),
    chat: state.chat,
    date: unixNow(),
    ...(threadId !== undefined ? { message_thread_id: threadId } : {}),
    ...(reply ? { reply_to_message: reply } : {}),
    ...(params.bool('protect_content') ? { has_protected_content: true } : {}),
  } as Message;
}

function repliedMessage(ctx: MethodContext, state: ChatState): Message | undefined {
  const { params } = ctx;
  const rp =
    params.json<ReplyParameters>('reply_parameters', "can't parse reply parameters JSON object") ??
    (params.has('reply_to_message_id')
      ? {
          message_id: params.int('reply_to_message_id') ?? 0,
          allow_sending_without_reply: params.bool('allow_sending_without_reply'),
        }
      : undefined);
  if (!rp) return undefined;
  const chatId = rp.chat_id === undefined ? state.chat.id : Number(rp.chat_id);
  const found = ctx.store.findMessage(chatId, Number(rp.message_id));
  if (!found) {
    if (rp.allow_sending_without_reply) return undefined;
    throw badRequest('message to be replied not found');
  }
  const { reply_to_message: _nested, ...replied } = toMessage(found) as Message & {
    reply_to_message?: unknown;
  };
  return replied as Message;
}

/**
 * The inline keyboard to put into the Message (Telegram returns only inline markup there); a reply
 * keyboard or its removal is remembered per chat so the playground can show it.
 */
export function applyMarkup(
  state: ChatState,
  markup: ReplyMarkupInput | undefined,
): { reply_markup?: InlineKeyboardMarkup } {
  if (!markup) return {};
  if (markup.kind === 'keyboard') state.replyKeyboard = markup.markup;
  if (markup.kind === 'remove') state.replyKeyboard = undefined;
  return markup.kind === 'inline' ? { reply_markup: markup.markup } : {};
}

/**
 * Stores a message the bot sends and shows it to the playground. Every send method builds it the
 * same way: the common fields (sender, chat, thread, quoted reply), the method's own `content`,
 * then the keyboard. `onStored` sees the new message before the playground does (an invoice is
 * recorded against its message id first).
 */
export function sendBotMessage(
  ctx: MethodContext,
  state: ChatState,
  content: Partial<Message>,
  markup: ReplyMarkupInput | undefined,
  onStored?: (stored: ConversationMessage) => void,
): Message {
  const stored = ctx.store.addMessage(
    state,
    true,
    (id) => ({ ...baseMessage(ctx, state, id), ...content, ...applyMarkup(state, markup) }) as Message,
  );
  onStored?.(stored);
  const message = toMessage(stored);
  ctx.events.emit('message', state.chat.id, { message, reply_keyboard: state.replyKeyboard ?? null });
  return message;
}
