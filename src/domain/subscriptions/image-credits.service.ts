import type { ImagePack } from '../../platform/db/schema.js';
import type { Transactor } from '../../platform/db/transactor.js';
import type { Logger } from '../../platform/logger.js';
import type { RowCache } from '../../platform/row-cache.js';
import type { ImageCreditsRepository } from './image-credits.repository.js';
import type { SubscriptionsService } from './subscriptions.service.js';

/** One image unit taken: from where, and the use to name when giving it back. */
export type ImageTake =
  | { ok: true; useId: number; source: 'plan' }
  | { ok: true; useId: number; source: 'pack'; packId: number }
  | { ok: false };

/**
 * Image units: the plan's images of the current quota period first (through SubscriptionsService,
 * the one writer of subscriptions), then purchased packs, oldest first (packs never expire and quota
 * resets never touch them). Every unit taken is recorded, so giving it back returns it to the same
 * source exactly once.
 */
export class ImageCreditsService {
  constructor(
    private readonly tx: Transactor,
    private readonly repo: ImageCreditsRepository,
    private readonly subscriptions: SubscriptionsService,
    /** Purchased images left per user, as /status reads them (the repository drops changed ones). */
    private readonly packsCache: RowCache<{ left: number }>,
    private readonly logger: Logger,
  ) {}

  /**
   * Take one unit atomically. The user's subscription row is locked first, so two takes of one
   * user run one after the other and neither can miss a pack the other has not emptied.
   */
  take(userId: number): Promise<ImageTake> {
    return this.tx.run(async () => {
      await this.subscriptions.getForUpdate(userId);
      if (await this.subscriptions.takePlanImage(userId)) {
        return { ok: true, useId: await this.repo.recordPlanUse(userId), source: 'plan' };
      }
      const packId = await this.repo.takeFromPack(userId);
      if (packId === undefined) return { ok: false };
      return { ok: true, useId: await this.repo.recordPackUse(userId, packId), source: 'pack', packId };
    });
  }

  /**
   * Give a unit back to where it came from (an image that failed). Idempotent: only the first call
   * for a use returns anything. A plan unit whose quota period has reset since, or a pack unit of a
   * pack refunded since, is not returned (there is nothing to give it back to). True when given back.
   */
  giveBack(useId: number): Promise<boolean> {
    return this.tx.run(async () => {
      const use = await this.repo.markReturned(useId);
      if (!use) return false;
      const returned =
        use.source === 'plan'
          ? await this.subscriptions.returnPlanImage(use.id)
          : await this.repo.returnToPack(use.pack_id!);
      this.logger.info({ userId: use.user_id, useId, source: use.source, returned }, 'image unit given back');
      return returned;
    });
  }

  /** A purchased pack (in the caller's transaction: the payment that bought it). */
  grantPack(userId: number, paymentId: number, images: number): Promise<ImagePack> {
    return this.repo.insertPack({ payment_id: paymentId, user_id: userId, images });
  }

  /** Empty a refunded pack: what is left of it goes, never below zero. The images removed (0 when revoked before). */
  async revokePack(packId: number): Promise<number> {
    const left = await this.repo.revokePack(packId);
    if (left !== undefined) this.logger.info({ packId, removed: left }, 'image pack revoked');
    return left ?? 0;
  }

  /** Purchased images the user has left (over all packs). */
  async purchasedLeft(userId: number): Promise<number> {
    const cached = await this.packsCache.get(userId, async () => ({
      left: await this.repo.imagesLeft(userId),
    }));
    return cached?.left ?? 0;
  }

  packs(userId: number): Promise<ImagePack[]> {
    return this.repo.packs(userId);
  }
}
