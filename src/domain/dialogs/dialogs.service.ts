import type { Db } from '../../platform/db/database.js';
import type { Dialog } from '../../platform/db/schema.js';
import { NotFoundError } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import { type DialogSummary, DialogsRepository } from './dialogs.repository.js';

export const TITLE_MAX = 60;

export function cleanTitle(title: string): string {
  const flat = title.replace(/\s+/g, ' ').trim();
  return flat.length > TITLE_MAX ? `${flat.slice(0, TITLE_MAX - 1)}…` : flat;
}

/** A user's dialogs: many per user, exactly one active (or none before the first message). */
export class DialogsService {
  constructor(
    private readonly db: Db,
    private readonly repo: DialogsRepository,
    private readonly logger: Logger,
  ) {}

  active(userId: number): Promise<Dialog | undefined> {
    return this.repo.findActive(userId);
  }

  count(userId: number): Promise<number> {
    return this.repo.countByUser(userId);
  }

  /** The active dialog, created with `title` when the user has none. */
  async ensureActive(userId: number, title: string): Promise<Dialog> {
    return (await this.repo.findActive(userId)) ?? this.create(userId, title);
  }

  /** Start a new dialog and make it the active one. */
  async create(userId: number, title: string): Promise<Dialog> {
    const dialog = await this.db.transaction().execute(async (trx) => {
      const repo = new DialogsRepository(trx);
      await repo.lockUser(userId);
      await repo.deactivateAll(userId);
      return repo.insert(userId, cleanTitle(title) || 'Dialog');
    });
    this.logger.info({ userId, dialogId: dialog.id }, 'dialog created');
    return dialog;
  }

  list(userId: number, limit = 10): Promise<DialogSummary[]> {
    return this.repo.listRecent(userId, limit);
  }

  private async owned(userId: number, dialogId: number): Promise<Dialog> {
    const dialog = await this.repo.findById(dialogId);
    if (!dialog || dialog.user_id !== userId) throw new NotFoundError(`dialog ${dialogId} not found`);
    return dialog;
  }

  async switchTo(userId: number, dialogId: number): Promise<Dialog> {
    await this.owned(userId, dialogId);
    return this.db.transaction().execute(async (trx) => {
      const repo = new DialogsRepository(trx);
      await repo.lockUser(userId);
      await repo.deactivateAll(userId);
      return repo.activate(dialogId);
    });
  }

  /** Delete a dialog and its messages; when it was active, the most recent other one becomes active. */
  async delete(userId: number, dialogId: number): Promise<void> {
    const dialog = await this.owned(userId, dialogId);
    await this.db.transaction().execute(async (trx) => {
      const repo = new DialogsRepository(trx);
      await repo.lockUser(userId);
      await repo.delete(dialogId);
      if (dialog.is_active) {
        const next = await repo.mostRecent(userId);
        if (next) await repo.activate(next.id);
      }
    });
    this.logger.info({ userId, dialogId }, 'dialog deleted');
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
  async reset(userId: number): Promise<Dialog | undefined> {
    const dialog = await this.repo.findActive(userId);
    if (!dialog) return undefined;
    return this.repo.reset(dialog.id);
  }
}
