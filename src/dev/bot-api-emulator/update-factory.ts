import { randomBytes } from 'node:crypto';
import type {
  Chat,
  Message,
  MessageEntity,
  RefundedPayment,
  SuccessfulPayment,
  Update,
  User,
} from 'grammy/types';
import { privateChat, type StateStore, toMessage } from './state-store.js';

/** A user as a test describes it; `is_bot` is always false. */
export interface UserInput {
  id: number;
  first_name: string;
  last_name?: string;
  username?: string;
  language_code?: string;
  is_premium?: boolean;
}

export interface ChatInput {
  id: number;
  type?: 'private' | 'group' | 'supergroup';
  title?: string;
  username?: string;
  is_forum?: boolean;
}

export interface InjectMessageInput {
  user: UserInput;
  text: string;
  /** Defaults to the user's private chat. Negative ids are groups, created on first use. */
  chat?: ChatInput;
  reply_to_message_id?: number;
  message_thread_id?: number;
}

export interface InjectCallbackQueryInput {
  user: UserInput;
  /** The bot message whose inline button was pressed. */
  message_id: number;
  data: string;
  /** Defaults to the user's private chat. */
  chat_id?: number;
}

export interface InjectPreCheckoutQueryInput {
  user: UserInput;
  invoice_payload: string;
  total_amount: number;
  currency?: string;
  id?: string;
}

export interface InjectSuccessfulPaymentInput {
  user: UserInput;
  /** Any payload: the invoice need not exist (orphan payments). */
  invoice_payload: string;
  total_amount: number;
  currency?: string;
  /** A fresh Telegram-like id when left out; a known one delivers that charge again. */
  telegram_payment_charge_id?: string;
  /** 2592000 makes this the first payment of a Star subscription (expiration, recurring flags). */
  subscription_period?: number;
  /** Raw overrides, e.g. a renewal of a subscription the emulator never saw. */
  subscription_expiration_date?: number;
  is_recurring?: boolean;
  is_first_recurring?: boolean;
}

export class InjectionError extends Error {
  override name = 'InjectionError';
}

const COMMAND = /(^|\s)(\/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?)(?=$|\s)/g;

/** Telegram marks `/command` and `/command@bot` in user text as bot_command entities. */
export function commandEntities(text: string): MessageEntity[] {
  const out: MessageEntity[] = [];
  for (const m of text.matchAll(COMMAND)) {
    const offset = (m.index ?? 0) + (m[1]?.length ?? 0);
    out.push({ type: 'bot_command', offset, length: m[2]!.length });
  }
  return out;
}

/** The Telegram User for a test's description, or an InjectionError saying what is wrong. */
export function toUser(input: UserInput): User {
  if (typeof input !== 'object' || input === null) throw new InjectionError('user is required');
  if (!Number.isSafeInteger(input.id) || input.id <= 0)
    throw new InjectionError('user.id must be a positive integer');
  if (typeof input.first_name !== 'string' || input.first_name === '') {
    throw new InjectionError('user.first_name is required');
  }
  return {
    id: input.id,
    is_bot: false,
    first_name: input.first_name,
    ...(input.last_name ? { last_name: input.last_name } : {}),
    ...(input.username ? { username: input.username } : {}),
    ...(input.language_code ? { language_code: input.language_code } : {}),
    ...(input.is_premium ? { is_premium: true as const } : {}),
  };
}

/** The payload and amount every injected payment needs, whichever update carries it. */
export function checkCharge(input: { invoice_payload: unknown; total_amount: unknown }): void {
  if (typeof input.invoice_payload !== 'string' || input.invoice_payload === '')
    throw new InjectionError('invoice_payload is required');
  if (!Number.isSafeInteger(input.total_amount) || (input.total_amount as number) <= 0)
    throw new InjectionError('total_amount must be a positive integer');
}

const unix = () => Math.floor(Date.now() / 1000);

/** Builds the updates a real user would cause, keeping the emulator's chats consistent with them. */
export class UpdateFactory {
  constructor(
    private readonly store: StateStore,
    private readonly nextUpdateId: () => number,
  ) {}

  private chatFor(user: User, input: ChatInput | undefined): Chat {
    if (!input || input.id === user.id) return privateChat(user);
    if (input.id > 0)
      throw new InjectionError('a positive chat id is a private chat and must be the user id');
    const type = input.type === 'group' ? 'group' : 'supergroup';
    return {
      id: input.id,
      type,
      title: input.title ?? `Group ${input.id}`,
      ...(input.username ? { username: input.username } : {}),
      ...(input.is_forum ? { is_forum: true } : {}),
    } as Chat;
  }

  private userMessage(user: User, chat: Chat, fields: Partial<Message>): Message {
    this.store.rememberUser(user);
    const state = this.store.ensureChat(chat.type === 'private' ? privateChat(user) : chat);
    const stored = this.store.addMessage(
      state,
      false,
      (message_id) =>
        ({
          message_id,
          from: user,
          chat: state.chat,
          date: unix(),
          ...fields,
        }) as Message,
    );
    return toMessage(stored);
  }

  message(input: InjectMessageInput): Update {
    if (typeof input.text !== 'string' || input.text === '') throw new InjectionError('text is required');
    const user = toUser(input.user);
    const chat = this.chatFor(user, input.chat);
    const replied =
      input.reply_to_message_id !== undefined
        ? this.store.findMessage(chat.id, input.reply_to_message_id)
        : undefined;
    const entities = commandEntities(input.text);
    const message = this.userMessage(user, chat, {
      text: input.text,
      ...(entities.length ? { entities } : {}),
      ...(replied ? { reply_to_message: toMessage(replied) } : {}),
      ...(input.message_thread_id !== undefined ? { message_thread_id: input.message_thread_id } : {}),
    } as Partial<Message>);
    return { update_id: this.nextUpdateId(), message } as Update;
  }

  callbackQuery(input: InjectCallbackQueryInput): Update {
    const user = toUser(input.user);
    this.store.rememberUser(user);
    if (typeof input.data !== 'string' || input.data === '') throw new InjectionError('data is required');
    const chatId = input.chat_id ?? user.id;
    const stored = this.store.findMessage(chatId, input.message_id);
    const chat = this.store.chats.get(chatId)?.chat ?? privateChat(user);
    // A message the emulator never saw (or that was deleted) arrives as Telegram's InaccessibleMessage.
    const message = stored ? toMessage(stored) : { chat, message_id: input.message_id, date: 0 };
    const id = BigInt.asUintN(63, randomBytes(8).readBigUInt64BE()).toString();
    this.store.callbackQueries.set(id, { chat_id: chatId, message_id: input.message_id, answered: false });
    return {
      update_id: this.nextUpdateId(),
      callback_query: {
        id,
        from: user,
        message,
        chat_instance: String(BigInt.asIntN(64, BigInt(chatId) * 2654435761n)),
        data: input.data,
      },
    } as Update;
  }

  /** A pre_checkout_query; the caller opens it at the pre-checkout desk under the returned id. */
  preCheckoutQuery(input: InjectPreCheckoutQueryInput): Update {
    const user = toUser(input.user);
    checkCharge(input);
    this.store.rememberUser(user);
    const id = input.id ?? BigInt.asUintN(63, randomBytes(8).readBigUInt64BE()).toString();
    return {
      update_id: this.nextUpdateId(),
      pre_checkout_query: {
        id,
        from: user,
        currency: input.currency ?? 'XTR',
        total_amount: input.total_amount,
        invoice_payload: input.invoice_payload,
      },
    };
  }

  /** The user's successful_payment service message in their chat with the bot. */
  successfulPayment(user: User, payment: SuccessfulPayment): Update {
    const message = this.userMessage(user, privateChat(user), {
      successful_payment: payment,
    } as Partial<Message>);
    return { update_id: this.nextUpdateId(), message } as Update;
  }

  /**
   * The refunded_payment service message after refundStarPayment. It is the bot's own (outgoing)
   * message, which the Bot API still delivers as an update (telegram-bot-api lets
   * messagePaymentRefunded through need_skip_update_message), so `from` is the bot: handlers must
   * take the user from the chat, not from `from`.
   */
  refundedPayment(userId: number, refunded: RefundedPayment): Update {
    const user = this.store.users.get(userId) ?? { id: userId, is_bot: false, first_name: `User ${userId}` };
    const state = this.store.ensureChat(privateChat(user));
    const stored = this.store.addMessage(
      state,
      true,
      (message_id) =>
        ({
          message_id,
          from: this.store.botSender(),
          chat: state.chat,
          date: unix(),
          refunded_payment: refunded,
        }) as Message,
      { service: true },
    );
    return { update_id: this.nextUpdateId(), message: toMessage(stored) } as Update;
  }

  /** my_chat_member for the bot in a user's private chat, as Telegram sends when a user (un)blocks it. */
  blockChange(userId: number, blocked: boolean): Update {
    const bot = this.store.botSender();
    const user = this.store.users.get(userId) ?? { id: userId, is_bot: false, first_name: `User ${userId}` };
    const member = { user: bot, status: 'member' as const };
    const kicked = { user: bot, status: 'kicked' as const, until_date: 0 };
    return {
      update_id: this.nextUpdateId(),
      my_chat_member: {
        chat: privateChat(user),
        from: user,
        date: unix(),
        old_chat_member: blocked ? member : kicked,
        new_chat_member: blocked ? kicked : member,
      },
    } as Update;
  }

  /** Any JSON as an update; a given `update_id` is kept so duplicates can be injected. */
  raw(update: Record<string, unknown>): Update {
    const id = update.update_id;
    if (id !== undefined && (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0)) {
      throw new InjectionError('update_id must be a non-negative integer');
    }
    const result = { ...update, update_id: typeof id === 'number' ? id : this.nextUpdateId() } as Update;
    // Groups come into existence when an update from them arrives, so the bot can answer there.
    const body = Object.values(result).find((v) => typeof v === 'object' && v !== null) as
      | { chat?: Partial<Chat>; message?: { chat?: Partial<Chat> } }
      | undefined;
    const chat = body?.chat ?? body?.message?.chat;
    if (chat && typeof chat.id === 'number' && chat.id < 0 && typeof chat.type === 'string') {
      this.store.ensureChat(chat as Chat);
    }
    return result;
  }
}
