import { randomUUID } from 'node:crypto';
import type { Dialog } from '../../platform/db/schema.js';
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
 * The lease goes back in the statement that ends the holder's last round (see ChatRepository's
 * releasedIfIdle): a crash before it leaves the lease to run out, one after it has nothing to leave.
 */
export class ReplyLease implements LeaseRef {
  /** Set once another job took the dialog over: this one stops and writes nothing more. */
  lost = false;
  /** Set once the lease went back (released, or given back by the statement that ended a round). */
  private ended = false;
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly repo: ChatRepository,
    readonly dialogId: number,
    readonly token: string,
  ) {}

  /**
   * Take the dialog's lease when nobody holds it (or the holder's ran out), with the dialog as the
   * claim found it; when it is held, how long the holder's lease still runs; undefined when there
   * is nothing to do (everything answered already, or the dialog deleted with its questions).
   */
  static async claim(
    repo: ChatRepository,
    dialogId: number,
  ): Promise<{ lease: ReplyLease; dialog: Dialog } | { heldForMs: number } | undefined> {
    const lease = new ReplyLease(repo, dialogId, randomUUID());
    const claimed = await repo.claimReply(dialogId, lease.token, LEASE_MS);
    return claimed && 'dialog' in claimed ? { lease, dialog: claimed.dialog } : claimed;
  }

  /**
   * Renew the lease in the background until it ends. `onLost` runs once when a renewal finds it
   * taken (this job stalled past it); `onError` when a renewal could not be written.
   */
  keepAlive(onLost: () => void, onError: (err: unknown) => void): void {
    this.timer = setInterval(() => {
      this.repo.renewReply(this.dialogId, this.token, LEASE_MS).then((held) => {
        if (held || this.lost || this.ended) return;
        this.lost = true;
        onLost();
      }, onError);
    }, LEASE_MS / 3);
  }

  /**
   * The dialog as a fenced write of this holder returned it: true while this lease still holds it.
   * A row without the token is one the write gave the lease back in (nothing is left to release);
   * undefined (the write found the lease gone, or nothing to move) leaves `release` to decide.
   */
  holds(dialog: Dialog | undefined): dialog is Dialog {
    if (!dialog || this.lost) return false;
    if (dialog.reply_token === this.token) return true;
    this.stop();
    return false;
  }

  /** Give the dialog back (only if this token still holds it and no write gave it back already). */
  async release(): Promise<void> {
    if (this.ended) return;
    this.stop();
    await this.repo.releaseReply(this.dialogId, this.token);
  }

  private stop(): void {
    clearInterval(this.timer);
    this.ended = true;
  }
}
