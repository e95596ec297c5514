import type { Dialog, Message } from '../../platform/db/schema.js';
import type { Transactor } from '../../platform/db/transactor.js';
import { NotFoundError, ValidationError } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import type { DialogScope, DialogSummary, DialogsRepository } from './dialogs.repository.js';

export type { DialogScope, DialogSummary };

export const TITLE_MAX = 60;
/** A dialog's own system prompt (/persona): long enough for a real persona, short of eating the context. */
export const PERSONA_MAX = 2_000;

/** Whose dialogs: a user id alone means their private chat with the bot. */
export type DialogOwner = number | DialogScope;

function scopeOf(owner: DialogOwner): DialogScope {
  return typeof owner === 'number' ? { userId: owner, chatId: owner } : owner;
}

export function cleanTitle(title: string): string {
  const flat = title.replace(/\s+/g, ' ').trim();
  return flat.length > TITLE_MAX ? `${flat.slice(0, TITLE_MAX - 1)}…` : flat;
}

/**
 * A user's dialogs: many per user and chat, exactly one active in each (or none before the first
 * message). A group conversation with the bot never mixes with the private one.
 */
export class DialogsService {
  constructor(
    private readonly tx: Transactor,
    private readonly repo: DialogsRepository,
    private readonly logger: Logger,
  ) {}

  find(id: number): Promise<Dialog | undefined> {
    return this.repo.findById(id);
  }

  active(owner: DialogOwner): Promise<Dialog | undefined> {
    return this.repo.findActive(scopeOf(owner));
  }

  /** Every dialog of the user, in all chats. */
  count(userId: number): Promise<number> {
    return this.repo.countByUser(userId);
  }

  /**
   * The active dialog, created with `title` when there is none. Looked for again under the user's
   * lock, so two first messages at once (two api replicas) share one dialog.
   */
  async ensureActive(owner: DialogOwner, title: string): Promise<Dialog> {
    const scope = scopeOf(owner);
    return (
      (await this.repo.findActive(scope)) ??
      this.tx.run(async () => {
        await this.repo.lockUser(scope.userId);
        return (await this.repo.findActive(scope)) ?? this.createLocked(scope, title);
      })
    );
  }

  /** Start a new dialog and make it the active one. */
  create(owner: DialogOwner, title: string): Promise<Dialog> {
    const scope = scopeOf(owner);
    return this.tx.run(async () => {
      await this.repo.lockUser(scope.userId);
      return this.createLocked(scope, title);
    });
  }

  /** Under the user's lock: the new dialog replaces the active one. */
  private async createLocked(scope: DialogScope, title: string): Promise<Dialog> {
    await this.repo.deactivateAll(scope);
    const dialog = await this.repo.insert(scope, cleanTitle(title) || 'Dialog');
    this.logger.info({ ...scope, dialogId: dialog.id }, 'dialog created');
    return dialog;
  }

  list(owner: DialogOwner, limit = 10): Promise<DialogSummary[]> {
    return this.repo.listRecent(scopeOf(owner), limit);
  }

  /** Every dialog of the user, in all chats, most recently used first. */
  listAll(userId: number, limit = 50): Promise<DialogSummary[]> {
    return this.repo.listByUser(userId, limit);
  }

  /** A dialog's newest messages, oldest first. */
  transcript(dialogId: number, limit = 200): Promise<Message[]> {
    return this.repo.recentMessages(dialogId, limit);
  }

  private async owned(scope: DialogScope, dialogId: number): Promise<Dialog> {
    const dialog = await this.repo.findById(dialogId);
    if (!dialog || dialog.user_id !== scope.userId || dialog.chat_id !== scope.chatId) {
      throw new NotFoundError(`dialog ${dialogId} not found`);
    }
    return dialog;
  }

  async switchTo(owner: DialogOwner, dialogId: number): Promise<Dialog> {
    const scope = scopeOf(owner);
    await this.owned(scope, dialogId);
    return this.tx.run(async () => {
      await this.repo.lockUser(scope.userId);
      await this.repo.deactivateAll(scope);
      return this.repo.activate(dialogId);
    });
  }

  /** Delete a dialog and its messages; when it was active, the most recent other one becomes active. */
  async delete(owner: DialogOwner, dialogId: number): Promise<void> {
    const scope = scopeOf(owner);
    const dialog = await this.owned(scope, dialogId);
    await this.tx.run(async () => {
      await this.repo.lockUser(scope.userId);
      await this.repo.delete(dialogId);
      if (dialog.is_active) {
        const next = await this.repo.mostRecent(scope);
        if (next) await this.repo.activate(next.id);
      }
    });
    this.logger.info({ ...scope, dialogId }, 'dialog deleted');
  }

  /**
   * Give the active dialog its own system prompt (null: back to the one in the settings). Creates
   * the dialog when there is none yet, so a persona can be set before the first message.
   */
  async setPersona(
    owner: DialogOwner,
    prompt: string | null,
    newTitle: () => Promise<string>,
  ): Promise<Dialog> {
    const text = prompt?.trim() || null;
    if (text && text.length > PERSONA_MAX) {
      throw new ValidationError(`a persona is at most ${PERSONA_MAX} characters`, { max: PERSONA_MAX });
    }
    const dialog =
      (await this.repo.findActive(scopeOf(owner))) ?? (await this.create(owner, await newTitle()));
    const updated = (await this.repo.setSystemPrompt(dialog.id, text)) ?? dialog;
    this.logger.info({ dialogId: dialog.id, chars: text?.length ?? 0 }, 'dialog persona set');
    return updated;
  }

  /**
   * Delete messages older than the retention period in batches, each its own short statement, so
   * the cleanup never holds long locks. Returns how many were deleted.
   */
  async deleteOldMessages(days: number, batchSize = 5_000, signal?: AbortSignal): Promise<number> {
    let total = 0;
    for (;;) {
      if (signal?.aborted) break;
      const n = await this.repo.deleteOlderThan(days, batchSize);
      total += n;
      if (n < batchSize) break;
    }
    if (total) this.logger.info({ deleted: total, days }, 'old messages deleted');
    return total;
  }

  /** Forget the active dialog's context (its messages stay as history). */
  async reset(owner: DialogOwner): Promise<Dialog | undefined> {
    const dialog = await this.repo.findActive(scopeOf(owner));
    if (!dialog) return undefined;
    return this.repo.reset(dialog.id);
  }
}
