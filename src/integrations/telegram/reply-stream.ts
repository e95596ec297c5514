import { type Api, GrammyError } from 'grammy';
import { resolveLocale, type Translator } from '../../bot/i18n.js';
import type {
  ReplyFailure,
  ReplyOutput,
  ReplyOutputFactory,
  ReplyTarget,
} from '../../domain/chat/reply-output.js';
import type { Logger } from '../../platform/logger.js';
import { markdownToTelegramHtml } from './format/markdown.js';
import { splitTelegramHtml } from './format/split.js';
import { htmlToPlainText } from './format/telegram-html.js';

export interface ReplyStreamDeps {
  /** Retries 429/5xx: used for what must arrive (the final answer, notices). */
  api: Api;
  /** No retries: used for drafts and edits in progress, which are best-effort and skippable. */
  direct: Api;
  i18n: Translator;
  /** Minimum time between two progress updates of one answer. */
  intervalMs: number;
  logger: Logger;
}

const FAILURE_KEYS: Record<ReplyFailure, string> = {
  not_configured: 'ai-not-configured',
  busy: 'ai-busy',
  failed: 'ai-failed',
};

function isParseError(err: unknown): boolean {
  return (
    err instanceof GrammyError && err.error_code === 400 && /can't parse entities/i.test(err.description)
  );
}

function isNotModified(err: unknown): boolean {
  return err instanceof GrammyError && /message is not modified/i.test(err.description);
}

/** The last Telegram-sized piece of the answer so far: what a draft or an edit can show. */
function visiblePart(markdown: string): string {
  return splitTelegramHtml(markdownToTelegramHtml(markdown)).at(-1) ?? '';
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

  constructor(
    private readonly deps: ReplyStreamDeps,
    private readonly target: ReplyTarget,
  ) {
    this.private = target.chatType === 'private';
    this.locale = resolveLocale(target.user.language, target.user.language_code);
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
    const wait = Math.max(this.lastAt + this.deps.intervalMs, this.pausedUntil) - Date.now();
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
      if (err instanceof GrammyError && err.error_code === 429) {
        this.pausedUntil = Date.now() + (err.parameters.retry_after ?? 1) * 1000;
      } else if (isNotModified(err)) {
        this.shown = html;
      } else {
        this.deps.logger.debug({ err, chatId }, 'progress update skipped');
      }
    }
  }

  private async settle(): Promise<void> {
    this.done = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }

  async finish(text: string): Promise<number[]> {
    await this.settle();
    const chunks = splitTelegramHtml(markdownToTelegramHtml(text));
    const ids: number[] = [];
    for (const [i, chunk] of chunks.entries()) {
      if (i === 0 && this.placeholderId !== undefined) {
        if (chunk !== this.shown) await this.edit(this.placeholderId, chunk);
        ids.push(this.placeholderId);
      } else {
        ids.push(await this.send(chunk));
      }
    }
    return ids;
  }

  async fail(reason: ReplyFailure): Promise<void> {
    await this.settle();
    const text = this.deps.i18n.t(this.locale, FAILURE_KEYS[reason]);
    if (this.placeholderId !== undefined) await this.edit(this.placeholderId, text);
    else await this.send(text);
  }

  private async send(html: string): Promise<number> {
    try {
      return (await this.deps.api.sendMessage(this.target.chatId, html, { parse_mode: 'HTML' })).message_id;
    } catch (err) {
      if (!isParseError(err)) throw err;
      this.deps.logger.warn({ err, chatId: this.target.chatId }, 'HTML rejected; sending plain text');
      return (await this.deps.api.sendMessage(this.target.chatId, htmlToPlainText(html))).message_id;
    }
  }

  private async edit(messageId: number, html: string): Promise<void> {
    try {
      await this.deps.api.editMessageText(this.target.chatId, messageId, html, { parse_mode: 'HTML' });
    } catch (err) {
      if (isNotModified(err)) return;
      if (!isParseError(err)) throw err;
      await this.deps.api.editMessageText(this.target.chatId, messageId, htmlToPlainText(html));
    }
  }
}

export function telegramReplyOutput(deps: ReplyStreamDeps): ReplyOutputFactory {
  return (target) => new TelegramReplyStream(deps, target);
}
