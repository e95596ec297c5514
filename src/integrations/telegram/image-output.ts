import { setTimeout as sleep } from 'node:timers/promises';
import { type Api, InputFile } from 'grammy';
import type { InlineKeyboardMarkup } from 'grammy/types';
import type {
  FinishedPicture,
  ImageNotice,
  ImageOutput,
  ImageOutputFactory,
  ImageProgress,
  ImageTarget,
  PhotoOutcome,
} from '../../domain/images/image-output.js';
import { resolveLocale, type Translator } from '../../platform/i18n/i18n.js';
import type { Logger } from '../../platform/logger.js';
import { ChatPacer } from './chat-pacer.js';
import { classifyTelegramError } from './telegram-errors.js';

export interface ImageKeyboards {
  /** ✖ under the placeholder. */
  cancel(jobId: number, locale: string): InlineKeyboardMarkup;
  /** ↻ Again and (when the AI can vary prompts) 🔁 Variation under the photo. */
  delivered(jobId: number, locale: string, variation: boolean): InlineKeyboardMarkup;
}

export interface ImageOutputDeps {
  /** Retries 429/5xx: the photo and the failure notice must arrive. */
  api: Api;
  /** No retries: progress edits and chat actions are best-effort. */
  direct: Api;
  i18n: Translator;
  keyboards: ImageKeyboards;
  logger: Logger;
  /** Between two edits of one chat (Telegram: about one message a second per chat). Default 1 s. */
  privateIntervalMs?: number;
  /** Groups allow about 20 messages a minute. Default 3 s. */
  groupIntervalMs?: number;
}

const NOTICE_KEYS: Record<ImageNotice, string> = {
  failed: 'image-failed',
  timed_out: 'image-timed-out',
  refused: 'image-refused-written',
  refused_minors: 'image-minors',
  unavailable: 'image-unavailable',
};
/** Telegram shows a chat action for about five seconds. */
const CHAT_ACTION_EVERY_MS = 4_500;
const CAPTION_LIMIT = 1024;

/**
 * A picture's placeholder in Telegram: edited as progress comes (paced per chat by a ChatPacer
 * shared by every picture of the process, the ✖ kept under it), `upload_photo` while drawing, then
 * the photo uploaded with its bytes — a storage URL would not be reachable by Telegram — and the
 * placeholder removed.
 */
class TelegramImageOutput implements ImageOutput {
  private readonly locale: string;
  private readonly key: string;
  private placeholderId: number | null;
  private shown = '';
  private done = false;
  private action: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: ImageOutputDeps,
    private readonly pacer: ChatPacer,
    private readonly target: ImageTarget,
  ) {
    this.locale = resolveLocale(target.user.language, target.user.language_code);
    this.placeholderId = target.placeholderId;
    this.key = `image:${target.jobId}`;
  }

  progress(p: ImageProgress): void {
    if (this.done) return;
    if (p.phase === 'drawing') this.startUploadAction();
    const text = this.progressText(p);
    if (text === this.shown) return;
    this.pacer.submit(this.target.chatId, this.key, () => this.show(text));
  }

  private progressText(p: ImageProgress): string {
    const t = (key: string, vars?: Record<string, number>) => this.deps.i18n.t(this.locale, key, vars);
    switch (p.phase) {
      case 'waiting':
        return t('image-waiting', { position: p.position });
      case 'queued':
        return p.position ? t('image-queued-at', { position: p.position + 1 }) : t('image-queued');
      case 'writing':
        return t('image-writing');
      case 'drawing':
        return t('image-drawing', { percent: p.percent });
    }
  }

  /** One paced edit (or the first placeholder, when the request could not send one). */
  private async show(text: string): Promise<void> {
    if (this.done || text === this.shown) return;
    const { chatId, jobId } = this.target;
    const markup = { reply_markup: this.deps.keyboards.cancel(jobId, this.locale) };
    try {
      if (this.placeholderId === null) {
        this.placeholderId = (await this.deps.direct.sendMessage(chatId, text, markup)).message_id;
      } else {
        await this.deps.direct.editMessageText(chatId, this.placeholderId, text, markup);
      }
      this.shown = text;
    } catch (err) {
      const failure = classifyTelegramError(err);
      if (failure.kind === 'rate_limited') {
        this.pacer.pause(chatId, failure.retryAfterMs);
        this.deps.logger.info(
          { chatId, retryAfterMs: failure.retryAfterMs },
          'picture progress paused by flood control',
        );
      } else if (failure.kind === 'not_modified') this.shown = text;
      else this.deps.logger.debug({ err, chatId }, 'picture progress update skipped');
    }
  }

  private startUploadAction(): void {
    if (this.action || this.done) return;
    const send = () =>
      void this.deps.direct.sendChatAction(this.target.chatId, 'upload_photo').catch(() => {});
    send();
    this.action = setInterval(send, CHAT_ACTION_EVERY_MS);
  }

  async photo(picture: FinishedPicture): Promise<PhotoOutcome> {
    await this.close();
    const { chatId, jobId } = this.target;
    // A progress edit met flood control: the photo waits out the same retry_after (but not the
    // pacing interval of edits: a new message right after an edit is no flood).
    const wait = this.pacer.pausedMs(chatId);
    if (wait > 0) await sleep(wait);
    try {
      const sent = await this.deps.api.sendPhoto(chatId, new InputFile(picture.bytes, 'picture.png'), {
        caption: picture.caption.slice(0, CAPTION_LIMIT),
        has_spoiler: picture.spoiler,
        reply_markup: this.deps.keyboards.delivered(jobId, this.locale, picture.variation),
      });
      await this.removePlaceholder();
      return { kind: 'sent', messageId: sent.message_id, fileId: sent.photo?.at(-1)?.file_id };
    } catch (err) {
      const failure = classifyTelegramError(err);
      switch (failure.kind) {
        case 'rate_limited':
          this.pacer.pause(chatId, failure.retryAfterMs);
          return {
            kind: 'unavailable',
            description: `flood control: retry after ${failure.retryAfterMs} ms`,
          };
        case 'blocked':
          return { kind: 'blocked', description: failure.description };
        case 'unavailable':
          return { kind: 'unavailable', description: failure.description };
        default:
          return { kind: 'rejected', description: failure.description };
      }
    }
  }

  async fail(notice: ImageNotice): Promise<void> {
    await this.close();
    const text = this.deps.i18n.t(this.locale, NOTICE_KEYS[notice]);
    const { chatId } = this.target;
    if (this.placeholderId !== null) {
      try {
        await this.deps.api.editMessageText(chatId, this.placeholderId, text);
        return;
      } catch (err) {
        // A deleted placeholder cannot be edited: say it in a new message instead.
        if (classifyTelegramError(err).kind !== 'rejected') throw err;
      }
    }
    await this.deps.api.sendMessage(chatId, text);
  }

  async close(): Promise<void> {
    this.done = true;
    clearInterval(this.action);
    this.action = undefined;
    await this.pacer.drop(this.target.chatId, this.key);
  }

  private async removePlaceholder(): Promise<void> {
    if (this.placeholderId === null) return;
    await this.deps.direct.deleteMessage(this.target.chatId, this.placeholderId).catch((err: unknown) => {
      this.deps.logger.debug({ err, chatId: this.target.chatId }, 'picture placeholder not removed');
    });
  }
}

export function telegramImageOutput(deps: ImageOutputDeps): ImageOutputFactory {
  const privateMs = deps.privateIntervalMs ?? 1_000;
  const groupMs = deps.groupIntervalMs ?? 3_000;
  const pacer = new ChatPacer((chatId) => (chatId > 0 ? privateMs : groupMs));
  return (target) => new TelegramImageOutput(deps, pacer, target);
}
