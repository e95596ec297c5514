import { setTimeout as sleep } from 'node:timers/promises';
import type { Api } from 'grammy';
import type { InlineKeyboardMarkup } from 'grammy/types';
import {
  type DeliverOptions,
  type DeliveryProgress,
  ReplyDeliveryError,
  type ReplyFailure,
  type ReplyOutput,
  type ReplyOutputFactory,
  type ReplyTarget,
} from '../../domain/chat/reply-output.js';
import { resolveLocale, type Translator } from '../../platform/i18n/i18n.js';
import type { Logger } from '../../platform/logger.js';
import { markdownToTelegramHtml } from './format/markdown.js';
import { splitTelegramHtml } from './format/split.js';
import { escapeHtml, htmlToPlainText } from './format/telegram-html.js';
import { classifyTelegramError } from './telegram-errors.js';

export interface ReplyStreamDeps {
  /** Retries 429/5xx: used for what must arrive (the final answer, notices). */
  api: Api;
  /** No retries: used for drafts and edits in progress, which are best-effort and skippable. */
  direct: Api;
  i18n: Translator;
  /** Minimum time between two progress updates of one answer in a private chat (drafts). */
  intervalMs: number;
  /** The same for edits in groups, where Telegram allows about 20 messages a minute per chat. */
  groupIntervalMs: number;
  logger: Logger;
  /** Buttons under the last part of a delivered answer (🎨 Picture), if any. */
  answerMarkup?: (answerId: number, locale: string) => Promise<InlineKeyboardMarkup | undefined>;
}

const FAILURE_KEYS: Record<ReplyFailure, string> = {
  not_configured: 'ai-not-configured',
  busy: 'ai-busy',
  failed: 'ai-failed',
  incomplete: 'ai-incomplete',
};

/** The button under an answer cut at the token limit; the bot's chat handler answers it. */
export const CONTINUE_CALLBACK = 'ai:continue';

/** The last Telegram-sized piece of the answer so far: what a draft or an edit can show. */
function visiblePart(markdown: string): string {
  return splitTelegramHtml(markdownToTelegramHtml(markdown)).at(-1) ?? '';
}

/**
 * The final answer as Telegram HTML parts. Markdown that renders to nothing visible (a lone code
 * fence, a bare heading mark) is sent as the plain text it is rather than as an empty message.
 */
export function answerParts(markdown: string): string[] {
  const html = markdownToTelegramHtml(markdown);
  const visible = htmlToPlainText(html).trim() ? html : escapeHtml(markdown.trim());
  return splitTelegramHtml(visible).filter((part) => part.trim());
}

/** Telegram's answer to a send, in the terms the chat service decides on. */
function deliveryError(err: unknown): ReplyDeliveryError {
  const failure = classifyTelegramError(err);
  // Nobody to tell when the user blocked the bot or the chat is gone; flood control and outages
  // get better with time, every other refusal does not.
  const unreachable = failure.kind === 'blocked' || failure.kind === 'chat_gone';
  const permanent = failure.kind !== 'rate_limited' && failure.kind !== 'unavailable';
  return new ReplyDeliveryError(failure.description, permanent, unreachable, { cause: err });
}

/**
 * Streams an answer into Telegram: `sendMessageDraft` in private chats, a placeholder message edited
 * in place elsewhere. Updates are throttled to one per interval and at most one call is in flight;
 * a 429 pauses updates for retry_after instead of retrying; identical text is never re-sent (no
 * "message is not modified"). The final answer is split at 4096 characters and sent as HTML, each
 * part falling back to plain text if Telegram cannot parse it.
 */
class TelegramReplyStream implements ReplyOutput {
  private readonly draftId = 1 + Math.floor(Math.random() * 2_147_483_646);
  private readonly private: boolean;
  private readonly locale: string;
  private latest = '';
  private shown = '';
  private lastAt = 0;
  private pausedUntil = 0;
  private inFlight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private placeholderId: number | undefined;
  private done = false;
  private readonly intervalMs: number;

  constructor(
    private readonly deps: ReplyStreamDeps,
    private readonly target: ReplyTarget,
  ) {
    this.private = target.chatType === 'private';
    this.locale = resolveLocale(target.user.language, target.user.language_code);
    this.intervalMs = this.private ? deps.intervalMs : deps.groupIntervalMs;
  }

  async typing(): Promise<void> {
    await this.deps.direct.sendChatAction(this.target.chatId, 'typing');
  }

  progress(text: string): void {
    if (this.done) return;
    this.latest = text;
    this.schedule();
  }

  private schedule(): void {
    if (this.timer || this.inFlight || this.done) return;
    const wait = Math.max(this.lastAt + this.intervalMs, this.pausedUntil) - Date.now();
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.inFlight = this.flush().finally(() => {
          this.inFlight = undefined;
          if (visiblePart(this.latest) !== this.shown) this.schedule();
        });
      },
      Math.max(wait, 0),
    );
  }

  private async flush(): Promise<void> {
    const html = visiblePart(this.latest);
    if (!html.trim() || html === this.shown || this.done) return;
    this.lastAt = Date.now();
    const chatId = this.target.chatId;
    try {
      if (this.private) {
        await this.deps.direct.sendMessageDraft(chatId, this.draftId, html, { parse_mode: 'HTML' });
      } else if (this.placeholderId === undefined) {
        this.placeholderId = (
          await this.deps.direct.sendMessage(chatId, html, { parse_mode: 'HTML' })
        ).message_id;
      } else {
        await this.deps.direct.editMessageText(chatId, this.placeholderId, html, { parse_mode: 'HTML' });
      }
      this.shown = html;
    } catch (err) {
      const failure = classifyTelegramError(err);
      if (failure.kind === 'rate_limited') {
        this.pausedUntil = Date.now() + failure.retryAfterMs;
      } else if (failure.kind === 'not_modified') {
        this.shown = html;
      } else {
        this.deps.logger.debug({ err, chatId }, 'progress update skipped');
      }
    }
  }

  async settle(): Promise<number | undefined> {
    this.done = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
    // Flood control refused a progress update: the final answer waits out the same retry_after.
    const paused = this.pausedUntil - Date.now();
    if (paused > 0) await sleep(paused);
    return this.placeholderId;
  }

  async deliver(
    text: string,
    progress: DeliveryProgress,
    onSent: (progress: DeliveryProgress) => Promise<void>,
    opts: DeliverOptions = {},
  ): Promise<void> {
    await this.settle();
    const parts = answerParts(text);
    const lastOfAnswer = parts.length - 1;
    // An answer cut at the token limit ends with a note and the button that asks for the rest: one
    // more part, so a resumed delivery sends it exactly once too.
    if (opts.cut) parts.push(escapeHtml(this.deps.i18n.t(this.locale, 'ai-cut')));
    const continueButton = {
      inline_keyboard: [
        [{ text: this.deps.i18n.t(this.locale, 'button-continue'), callback_data: CONTINUE_CALLBACK }],
      ],
    };
    const sent = [...progress.sent];
    const placeholderId = progress.placeholderId;
    try {
      for (let i = sent.length; i < parts.length; i++) {
        const part = parts[i] as string;
        const markup =
          i === lastOfAnswer && opts.answerId !== undefined
            ? await this.deps.answerMarkup?.(opts.answerId, this.locale)
            : i > lastOfAnswer
              ? continueButton
              : undefined;
        const id =
          i === 0 && placeholderId !== undefined
            ? await this.editOrSend(placeholderId, part, markup)
            : await this.send(part, markup);
        sent.push(id);
        await onSent({ sent: [...sent], placeholderId });
      }
    } catch (err) {
      if (err instanceof ReplyDeliveryError) throw err;
      throw deliveryError(err);
    }
  }

  async fail(reason: ReplyFailure, placeholderId?: number | null): Promise<void> {
    await this.settle();
    const text = this.deps.i18n.t(this.locale, FAILURE_KEYS[reason]);
    const into = placeholderId === null ? undefined : (placeholderId ?? this.placeholderId);
    if (into !== undefined) await this.editOrSend(into, text);
    else await this.send(text);
  }

  private async send(html: string, markup?: InlineKeyboardMarkup): Promise<number> {
    const extra = markup ? { reply_markup: markup } : {};
    try {
      return (await this.deps.api.sendMessage(this.target.chatId, html, { parse_mode: 'HTML', ...extra }))
        .message_id;
    } catch (err) {
      if (classifyTelegramError(err).kind !== 'parse_error') throw err;
      this.deps.logger.warn({ err, chatId: this.target.chatId }, 'HTML rejected; sending plain text');
      return (await this.deps.api.sendMessage(this.target.chatId, htmlToPlainText(html), extra)).message_id;
    }
  }

  /** Turn the placeholder into this part; when it is gone (deleted), send the part instead. */
  private async editOrSend(messageId: number, html: string, markup?: InlineKeyboardMarkup): Promise<number> {
    if (html === this.shown && !markup) return messageId;
    const extra = markup ? { reply_markup: markup } : {};
    try {
      await this.deps.api.editMessageText(this.target.chatId, messageId, html, {
        parse_mode: 'HTML',
        ...extra,
      });
    } catch (err) {
      switch (classifyTelegramError(err).kind) {
        case 'not_modified':
          return messageId;
        case 'parse_error':
          await this.deps.api.editMessageText(this.target.chatId, messageId, htmlToPlainText(html), extra);
          break;
        case 'rejected':
          this.deps.logger.info({ chatId: this.target.chatId, messageId }, 'placeholder gone; sending anew');
          return this.send(html, markup);
        default:
          throw err;
      }
    }
    return messageId;
  }
}

export function telegramReplyOutput(deps: ReplyStreamDeps): ReplyOutputFactory {
  return (target) => new TelegramReplyStream(deps, target);
}
