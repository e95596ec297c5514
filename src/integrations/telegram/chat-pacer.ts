/** One chat's pending edits and when the next may go out. */
interface ChatState {
  /** No edit before this: the interval after the last one, or a flood-control pause. */
  readyAt: number;
  /** The flood-control part of it: nothing at all goes to the chat before this. */
  pausedUntil: number;
  /** Latest task per key (a message): an edit not yet sent is replaced, never queued twice. */
  pending: Map<string, () => Promise<void>>;
  timer: NodeJS.Timeout | undefined;
  busy: Promise<void> | undefined;
}

/**
 * Paces best-effort edits per chat, over every picture in this process: one call at a time per
 * chat, the next at least `intervalMs` after the previous one's answer (so Telegram never sees two
 * closer than that, however long each took to travel), and none before a flood-control
 * `retry_after` has passed. Only the newest state of each message is sent.
 */
export class ChatPacer {
  private readonly chats = new Map<number, ChatState>();

  constructor(private readonly intervalOf: (chatId: number) => number) {}

  /** Send `task` for `key` in `chatId` when the chat's turn comes (replacing one still waiting). */
  submit(chatId: number, key: string, task: () => Promise<void>): void {
    const chat = this.state(chatId);
    chat.pending.set(key, task);
    this.schedule(chatId, chat);
  }

  /** Forget what `key` still has waiting; resolves once a call of the chat in flight has ended. */
  async drop(chatId: number, key: string): Promise<void> {
    const chat = this.chats.get(chatId);
    if (!chat) return;
    chat.pending.delete(key);
    await chat.busy;
  }

  /** Flood control answered: nothing more to this chat for `ms`. */
  pause(chatId: number, ms: number): void {
    const chat = this.state(chatId);
    chat.pausedUntil = Math.max(chat.pausedUntil, Date.now() + ms);
    chat.readyAt = Math.max(chat.readyAt, chat.pausedUntil);
  }

  /** How long flood control still holds the chat (0: anything may go now). */
  pausedMs(chatId: number): number {
    const chat = this.chats.get(chatId);
    return chat ? Math.max(0, chat.pausedUntil - Date.now()) : 0;
  }

  private state(chatId: number): ChatState {
    let chat = this.chats.get(chatId);
    if (!chat) {
      chat = { readyAt: 0, pausedUntil: 0, pending: new Map(), timer: undefined, busy: undefined };
      this.chats.set(chatId, chat);
    }
    return chat;
  }

  private schedule(chatId: number, chat: ChatState): void {
    if (chat.timer || chat.busy) return;
    if (chat.pending.size === 0) {
      // Idle: forget the chat once its pause is over.
      const left = chat.readyAt - Date.now();
      if (left <= 0) this.chats.delete(chatId);
      else {
        chat.timer = setTimeout(() => {
          chat.timer = undefined;
          this.schedule(chatId, chat);
        }, left);
        chat.timer.unref();
      }
      return;
    }
    chat.timer = setTimeout(
      () => {
        chat.timer = undefined;
        const next = chat.pending.entries().next();
        // Everything waiting was dropped meanwhile.
        if (next.done) return this.schedule(chatId, chat);
        const [key, task] = next.value;
        chat.pending.delete(key);
        chat.busy = task()
          .catch(() => {})
          .finally(() => {
            chat.readyAt = Math.max(chat.readyAt, Date.now() + this.intervalOf(chatId));
            chat.busy = undefined;
            this.schedule(chatId, chat);
          });
      },
      Math.max(0, chat.readyAt - Date.now()),
    );
  }
}
