import { randomBytes } from 'node:crypto';
import type { BotCommand, Chat, Message, ReplyKeyboardMarkup, User, UserFromGetMe } from 'grammy/types';
import { chatNotFound } from './bot-api-error.js';
import type {
  CallbackAnswerRecord,
  ChatActionRecord,
  ConversationMessage,
  ConversationView,
  DraftRecord,
  InvoiceRecord,
} from './types.js';

const MAX_ACTIONS_PER_CHAT = 200;
const MAX_DRAFT_STATES = 2_000;

export interface ChatState {
  chat: Chat;
  nextMessageId: number;
  messages: Map<number, ConversationMessage>;
  drafts: Map<number, DraftRecord>;
  actions: ChatActionRecord[];
  replyKeyboard?: ReplyKeyboardMarkup;
}

export interface StoredFile {
  file_id: string;
  file_unique_id: string;
  file_path: string;
  mimetype: string;
  size?: number;
  data?: Buffer;
  url?: string;
}

export interface CallbackQueryState {
  chat_id?: number;
  message_id?: number;
  answered: boolean;
}

/** Everything the emulator remembers about chats, messages, payments and settings. In memory only. */
export class StateStore {
  private seq = 0;
  readonly chats = new Map<number, ChatState>();
  readonly users = new Map<number, User>();
  readonly files = new Map<string, StoredFile>();
  private fileBytes = 0;
  private readonly blobs = new Map<Buffer, string[]>();
  readonly callbackQueries = new Map<string, CallbackQueryState>();
  readonly invoices: InvoiceRecord[] = [];
  readonly callbackAnswers: CallbackAnswerRecord[] = [];
  readonly commands = new Map<
    string,
    { scope: Record<string, unknown>; language_code: string; commands: BotCommand[] }
  >();
  readonly botTexts = new Map<string, string>();
  readonly blocked = new Set<number>();
  /** Messages the bot sent since the last reset (deleted ones included). */
  sentCount = 0;

  constructor(
    readonly botUser: UserFromGetMe,
    private readonly maxFileBytes: number,
    private readonly firstMessageId: number,
  ) {}

  nextSeq(): number {
    this.seq += 1;
    return this.seq;
  }

  /** The bot as it appears in `from` of its messages. */
  botSender(): User {
    const { id, is_bot, first_name, username } = this.botUser;
    return { id, is_bot, first_name, username };
  }

  rememberUser(user: User): void {
    this.users.set(user.id, { ...this.users.get(user.id), ...user });
    const state = this.chats.get(user.id);
    if (state && state.chat.type === 'private') state.chat = privateChat(user);
  }

  /**
   * The chat a method targets. Any positive id is a private chat (created on first use, as if the
   * user had started the bot); groups exist only once an update from them was injected.
   */
  chat(chatId: number | string): ChatState {
    if (typeof chatId === 'string') {
      const name = chatId.replace(/^@/, '').toLowerCase();
      for (const state of this.chats.values()) {
        if ('username' in state.chat && state.chat.username?.toLowerCase() === name) return state;
      }
      throw chatNotFound();
    }
    const existing = this.chats.get(chatId);
    if (existing) return existing;
    if (chatId <= 0) throw chatNotFound();
    const user = this.users.get(chatId) ?? { id: chatId, is_bot: false, first_name: `User ${chatId}` };
    return this.addChat(privateChat(user));
  }

  /** Registers a chat seen in an injected update (groups included); keeps its message counter. */
  ensureChat(chat: Chat): ChatState {
    const existing = this.chats.get(chat.id);
    if (existing) {
      existing.chat = { ...existing.chat, ...chat } as Chat;
      return existing;
    }
    return this.addChat(chat);
  }

  private addChat(chat: Chat): ChatState {
    const state: ChatState = {
      chat,
      nextMessageId: this.firstMessageId,
      messages: new Map(),
      drafts: new Map(),
      actions: [],
    };
    this.chats.set(chat.id, state);
    return state;
  }

  /**
   * Adds a message with the chat's next id; `build` gets that id and returns the Telegram Message.
   * A `service` message of the bot (refunded_payment) is not one it sent and leaves drafts alone.
   */
  addMessage(
    state: ChatState,
    outgoing: boolean,
    build: (messageId: number) => Message,
    opts: { service?: boolean } = {},
  ): ConversationMessage {
    const messageId = state.nextMessageId++;
    const message = build(messageId);
    const stored = {
      ...message,
      seq: this.nextSeq(),
      outgoing,
      deleted: false,
      history: [],
    } as ConversationMessage;
    state.messages.set(messageId, stored);
    if (outgoing && !opts.service) {
      this.sentCount += 1;
      for (const draft of state.drafts.values()) draft.active = false;
    }
    return stored;
  }

  findMessage(chatId: number, messageId: number): ConversationMessage | undefined {
    const m = this.chats.get(chatId)?.messages.get(messageId);
    return m && !m.deleted ? m : undefined;
  }

  addChatAction(state: ChatState, record: ChatActionRecord): void {
    state.actions.push(record);
    if (state.actions.length > MAX_ACTIONS_PER_CHAT)
      state.actions.splice(0, state.actions.length - MAX_ACTIONS_PER_CHAT);
  }

  putDraft(
    state: ChatState,
    draft: Omit<DraftRecord, 'states' | 'active' | 'updated_at' | 'chat_id'>,
  ): DraftRecord {
    const at = Date.now();
    const record = state.drafts.get(draft.draft_id) ?? {
      chat_id: state.chat.id,
      draft_id: draft.draft_id,
      text: '',
      states: [],
      active: true,
      updated_at: at,
    };
    record.text = draft.text;
    record.entities = draft.entities;
    if (draft.message_thread_id !== undefined) record.message_thread_id = draft.message_thread_id;
    record.active = true;
    record.updated_at = at;
    record.states.push({ text: draft.text, ...(draft.entities ? { entities: draft.entities } : {}), at });
    if (record.states.length > MAX_DRAFT_STATES)
      record.states.splice(0, record.states.length - MAX_DRAFT_STATES);
    state.drafts.set(draft.draft_id, record);
    return record;
  }

  /** Keeps uploaded bytes so getFile and the playground can show them; old data goes past the cap. */
  putFile(file: Omit<StoredFile, 'file_id' | 'file_unique_id' | 'file_path'>, extension: string): StoredFile {
    const n = this.files.size + 1;
    const stored: StoredFile = {
      ...file,
      file_id: `AgAC${randomBytes(24).toString('base64url')}`,
      file_unique_id: `AQAD${randomBytes(8).toString('base64url')}`,
      file_path: `photos/file_${n}.${extension}`,
    };
    this.files.set(stored.file_id, stored);
    if (file.data) {
      // Scaled photo sizes share one buffer: count and evict it once.
      const ids = this.blobs.get(file.data);
      if (ids) ids.push(stored.file_id);
      else {
        this.blobs.set(file.data, [stored.file_id]);
        this.fileBytes += file.data.length;
      }
      for (const [blob, fileIds] of this.blobs) {
        if (this.fileBytes <= this.maxFileBytes || blob === file.data) break;
        for (const id of fileIds) {
          const f = this.files.get(id);
          if (f) f.data = undefined;
        }
        this.fileBytes -= blob.length;
        this.blobs.delete(blob);
      }
    }
    return stored;
  }

  conversation(chatId: number): ConversationView | undefined {
    const state = this.chats.get(chatId);
    if (!state) return undefined;
    return {
      chat: state.chat,
      messages: [...state.messages.values()],
      drafts: [...state.drafts.values()],
      chat_actions: [...state.actions],
      ...(state.replyKeyboard ? { reply_keyboard: state.replyKeyboard } : {}),
    };
  }

  reset(): void {
    this.chats.clear();
    this.users.clear();
    this.files.clear();
    this.fileBytes = 0;
    this.blobs.clear();
    this.callbackQueries.clear();
    this.invoices.length = 0;
    this.callbackAnswers.length = 0;
    this.commands.clear();
    this.botTexts.clear();
    this.blocked.clear();
    this.sentCount = 0;
  }
}

export function privateChat(user: User): Chat {
  return {
    id: user.id,
    type: 'private',
    first_name: user.first_name,
    ...(user.last_name ? { last_name: user.last_name } : {}),
    ...(user.username ? { username: user.username } : {}),
  };
}

/** The Message as Telegram returns it, without the emulator's bookkeeping fields. */
export function toMessage(stored: ConversationMessage): Message {
  const { seq: _seq, outgoing: _o, deleted: _d, deleted_at: _da, history: _h, ...message } = stored;
  return message as Message;
}
