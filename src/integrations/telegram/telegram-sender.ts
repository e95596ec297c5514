import type { MessageSender, SendOutcome } from '../../domain/broadcasts/delivery-sender.js';
import { classifyTelegramError } from './telegram-errors.js';

interface SendOptions {
  parse_mode?: 'HTML';
  caption?: string;
  reply_markup?: { inline_keyboard: { text: string; url: string }[][] };
}

/**
 * The part of a Bot API client (grammY's `Api`) a sender uses. It must not retry by itself: a 429
 * has to reach the caller, which pauses the whole delivery queue instead of one request. `Signal`
 * is the client's AbortSignal type (grammY declares a shim's; at run time it takes the platform's).
 */
export interface TelegramSendApi<Signal = AbortSignal> {
  sendMessage(
    chatId: number,
    text: string,
    other?: SendOptions,
    signal?: Signal,
  ): Promise<{ message_id: number }>;
  sendPhoto(
    chatId: number,
    photo: string,
    other?: SendOptions,
    signal?: Signal,
  ): Promise<{ message_id: number; photo?: { file_id: string }[] }>;
}

/** A failed send in the port's terms: only the user's own refusal marks them blocked. */
function sendFailure(err: unknown): Exclude<SendOutcome, { kind: 'sent' }> {
  const failure = classifyTelegramError(err);
  switch (failure.kind) {
    case 'rate_limited':
      return { kind: 'rate_limited', retryAfterMs: failure.retryAfterMs };
    case 'blocked':
    case 'unavailable':
      return { kind: failure.kind, description: failure.description };
    default:
      return { kind: 'rejected', description: failure.description };
  }
}

/** The MessageSender adapter over the Bot API: sendMessage, or sendPhoto with the text as its caption. */
export function telegramSender<Signal>(api: TelegramSendApi<Signal>): MessageSender {
  return {
    async send(chatId, message, abort) {
      const signal = abort as Signal | undefined;
      const other: SendOptions = message.html ? { parse_mode: 'HTML' } : {};
      if (message.button) other.reply_markup = { inline_keyboard: [[message.button]] };
      try {
        if (message.photo) {
          const sent = await api.sendPhoto(
            chatId,
            message.photo,
            { ...other, caption: message.text },
            signal,
          );
          return { kind: 'sent', messageId: sent.message_id, photoFileId: sent.photo?.at(-1)?.file_id };
        }
        const sent = await api.sendMessage(chatId, message.text, other, signal);
        return { kind: 'sent', messageId: sent.message_id };
      } catch (err) {
        return sendFailure(err);
      }
    },
  };
}
