import { randomUUID } from 'node:crypto';
import type { ChatRepository, LeaseRef } from './chat.repository.js';

/**
 * The reply lease, renewed every third of it while held: a crashed holder frees the dialog this
 * fast (the jobs of its messages wait for exactly that, see ReplyRunner). A holder whose renewals
 * stall longer loses it, and its writes are fenced off.
 */
export const LEASE_MS = 15_000;

/**
 * One job's hold on a dialog: only the holder generates and delivers its answers. The lease is a
 * token and an expiry on the dialog row; every write of a reply is fenced by the token (see
 * ChatRepository), so a holder that stalled past the expiry — and was taken over — writes nothing.
 *
 * Crash safety: a holder that dies stops renewing; within LEASE_MS the lease is free and the next
 * job (or the sweeper's) takes the dialog over, continuing from what the rows say was committed.
 */
export class ReplyLease implements LeaseRef {
  /** Set once another job took the dialog over: this one stops and writes nothing more. */
  lost = false;
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly repo: ChatRepository,
    readonly dialogId: number,
    readonly token: string,
  ) {}

  /**
   * Take the dialog's lease when nobody holds it (or the holder's ran out); when it is held, how
   * long the holder's lease still runs.
   */
  static async claim(
    repo: ChatRepository,
    dialogId: number,
  ): Promise<{ lease: ReplyLease } | { heldForMs: number }> {
    const lease = new ReplyLease(repo, dialogId, randomUUID());
    if (await repo.claimReply(dialogId, lease.token, LEASE_MS)) return { lease };
    return { heldForMs: (await repo.leaseHeldForMs(dialogId)) ?? 0 };
  }

  /**
   * Renew the lease in the background until `release`. `onLost` runs once when a renewal finds it
   * taken (this job stalled past it); `onError` when a renewal could not be written.
   */
  keepAlive(onLost: () => void, onError: (err: unknown) => void): void {
    this.timer = setInterval(() => {
      this.repo.renewReply(this.dialogId, this.token, LEASE_MS).then((held) => {
        if (held || this.lost) return;
        this.lost = true;
        onLost();
      }, onError);
    }, LEASE_MS / 3);
  }

  /** Give the dialog back (only if this token still holds it). */
  async release(): Promise<void> {
    clearInterval(this.timer);
    await this.repo.releaseReply(this.dialogId, this.token);
  }
}
