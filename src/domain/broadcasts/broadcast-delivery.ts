import { randomUUID } from 'node:crypto';
import type { Logger } from '../../platform/logger.js';
import type { Metrics } from '../../platform/metrics.js';
import { jobs } from '../jobs.js';
import { sendWindowHistogram } from '../send-window.js';
import type { BroadcastsRepository, DeliveryResult } from './broadcasts.repository.js';
import {
  type DeliveryOutcome,
  DeliveryUnavailableError,
  type MessageSender,
  type OutgoingMessage,
} from './delivery-sender.js';

export function toOutgoing(c: {
  text: string;
  photo: string | null;
  button?: { text: string; url: string } | null;
  button_text?: string | null;
  button_url?: string | null;
}): OutgoingMessage {
  const button =
    c.button ?? (c.button_text && c.button_url ? { text: c.button_text, url: c.button_url } : null);
  return { text: c.text, html: true, photo: c.photo, button };
}

export interface BroadcastDeliveryDeps {
  repo: BroadcastsRepository;
  users: { markBotBlocked(id: number): Promise<boolean> };
  sender: MessageSender | undefined;
  logger: Logger;
  metrics: Metrics;
  onCompleted: (broadcastId: number) => void;
}

/**
 * How long a claim holds a delivery. An attempt's send is aborted at the job's time limit, so past
 * that (plus a margin for the result to be written) no send is behind the claim unless its process
 * froze for as long; only then can a second claimer send the message again.
 */
export const CLAIM_LEASE_MS = jobs['broadcast.deliver'].timeoutMs + 30_000;
/** A deferred attempt comes back this long after the lease it waits for runs out. */
const LEASE_MARGIN_MS = 1_000;

/**
 * One delivery: claim the row, send, record the result, complete the broadcast after its last one.
 *
 * Crash safety. The row is the truth: 'pending' until claimed, 'sending' while an attempt holds it
 * (a token and a lease of CLAIM_LEASE_MS), then final. Only the holder records the result or hands
 * the row back. Another attempt of the same delivery — BullMQ hands a job to a second worker when
 * the first one's lock lapses, after a crash or an event-loop stall longer than the lock — is
 * refused while the lease runs and put off until it ends: by then the first attempt has recorded
 * its result (a stall) or is gone (a crash), and the row is taken again only in the second case.
 * With the in-process queue every claim is void at start-up (see BroadcastsService.onWorkerStart).
 *
 * What is left: Telegram has no idempotency key, so a worker killed after Telegram accepted a
 * message but before the 'sent' commit (one HTTP response plus one UPDATE, about a millisecond)
 * cannot be told apart from one killed just before sending; in that window only, a recipient gets
 * the message twice — as after a freeze longer than the lease. Nothing is ever missed: a row only
 * ends as sent, blocked, failed or cancelled.
 */
export class BroadcastDelivery {
  private readonly results;
  private readonly sendWindow;
  /** A broadcast photo's Telegram file_id once sent: Telegram fetches a URL only once per process. */
  private readonly photoIds = new Map<number, string>();

  constructor(private readonly d: BroadcastDeliveryDeps) {
    this.results = d.metrics.counter({
      name: 'vitte_broadcast_deliveries_total',
      help: 'Broadcast delivery attempts by result (sent, blocked, failed, rate_limited, error, skipped, busy, claim_lost)',
      labelNames: ['result'],
    });
    this.sendWindow = sendWindowHistogram(d.metrics);
  }

  async deliver(
    broadcastId: number,
    userId: number,
    opts: { isLastAttempt: boolean; signal?: AbortSignal | undefined },
  ): Promise<DeliveryOutcome> {
    const { repo } = this.d;
    const claim = { broadcastId, userId, token: randomUUID() };
    const claimed = await repo.claim(broadcastId, userId, claim.token, CLAIM_LEASE_MS);
    if (!claimed) return this.unclaimed(broadcastId, userId);

    // The audience was chosen when the broadcast started; a user may have left it since.
    if (claimed.banned || !claimed.notificationsEnabled) {
      const detail = claimed.banned ? 'recipient is banned' : 'recipient turned notifications off';
      return this.end(claim, 'cancelled', { error: detail }, 'skipped', detail);
    }
    if (claimed.botBlocked) {
      const detail = 'recipient had blocked the bot';
      return this.end(claim, 'blocked', { error: detail }, 'blocked', detail);
    }

    if (!this.d.sender)
      throw new DeliveryUnavailableError('no BOT_TOKEN configured', `broadcast ${broadcastId} to ${userId}`);
    const photo = claimed.photo ? (this.photoIds.get(broadcastId) ?? claimed.photo) : null;
    const outcome = await this.d.sender.send(userId, toOutgoing({ ...claimed, photo }), opts.signal);
    switch (outcome.kind) {
      case 'sent': {
        // Recorded before anything else: until the record commits, a crash sends it again.
        const answered = performance.now();
        const ended = await this.end(
          claim,
          'sent',
          { messageId: outcome.messageId },
          'sent',
          undefined,
          answered,
        );
        if (photo && outcome.photoFileId) this.rememberPhoto(broadcastId, outcome.photoFileId);
        return ended;
      }
      case 'rate_limited':
        // The whole queue pauses (the job's caller) and this job runs again afterwards with a new
        // claim, so this one is handed back first: one UPDATE by primary key, about a millisecond
        // of further sends into Telegram's flood control, against a row held for the whole lease.
        await repo.release(broadcastId, userId, claim.token);
        this.results.inc({ result: 'rate_limited' });
        return { kind: 'rate_limited', retryAfterMs: outcome.retryAfterMs };
      case 'blocked':
        await this.d.users.markBotBlocked(userId);
        return this.end(claim, 'blocked', { error: outcome.description }, 'blocked');
      case 'rejected':
        return this.end(claim, 'failed', { error: outcome.description }, 'failed', outcome.description);
      case 'unavailable':
        if (opts.isLastAttempt) {
          return this.end(claim, 'failed', { error: outcome.description }, 'failed', outcome.description);
        }
        await repo.release(broadcastId, userId, claim.token, outcome.description);
        this.results.inc({ result: 'error' });
        throw new DeliveryUnavailableError(outcome.description, `broadcast ${broadcastId} to ${userId}`);
    }
  }

  /** The claim found nothing to take: already done, not running, or another attempt holds it. */
  private async unclaimed(broadcastId: number, userId: number): Promise<DeliveryOutcome> {
    const row = await this.d.repo.deliveryState(broadcastId, userId);
    if (!row) return this.skip('no such delivery');
    if (row.status !== 'pending' && row.status !== 'sending') return this.skip(`already ${row.status}`);
    const over = row.broadcastStatus === 'cancelled' || row.broadcastStatus === 'completed';
    if (over) await this.d.repo.closeUnheld(broadcastId, userId, `broadcast ${row.broadcastStatus}`);
    // Paused: the row stays for resume to queue again (a held one is finished by its holder).
    if (!over && row.broadcastStatus !== 'running') return this.skip(`broadcast ${row.broadcastStatus}`);
    if (row.heldForMs === null) {
      return this.skip(
        over ? `broadcast ${row.broadcastStatus}` : 'changed while claiming; the tick queues it again',
      );
    }
    // Held by an attempt that may be dead: come back when its lease ends (for a cancelled
    // broadcast, to close the row then; nothing else ever would).
    this.results.inc({ result: 'busy' });
    this.d.logger.warn(
      { broadcastId, userId, heldForMs: row.heldForMs },
      'delivery held by another attempt (its worker froze or died); trying again when its claim runs out',
    );
    return { kind: 'busy', retryInMs: row.heldForMs + LEASE_MARGIN_MS, detail: 'held by another attempt' };
  }

  private async end(
    claim: { broadcastId: number; userId: number; token: string },
    status: DeliveryResult,
    detail: { messageId?: number; error?: string },
    result: 'sent' | 'blocked' | 'failed' | 'skipped',
    note?: string,
    /** When Telegram answered a send: the window until the record commits is measured. */
    answeredAt?: number,
  ): Promise<DeliveryOutcome> {
    const { broadcastId, userId, token } = claim;
    const recorded = await this.d.repo.finish(broadcastId, userId, token, status, detail);
    if (answeredAt !== undefined) {
      this.sendWindow.observe({ flow: 'broadcast' }, (performance.now() - answeredAt) / 1000);
    }
    if (!recorded) {
      // The lease ran out while this attempt was frozen and another took the row over (for a
      // 'sent' result: the recipient may get the message twice), or a cancel closed it.
      this.results.inc({ result: 'claim_lost' });
      this.d.logger.warn(
        { broadcastId, userId, result: status, messageId: detail.messageId },
        'delivery result not recorded: this attempt no longer holds the row',
      );
      return { kind: 'skipped', detail: `claim lost before recording ${status}` };
    }
    this.results.inc({ result });
    if (await this.d.repo.completeIfDone(broadcastId)) this.d.onCompleted(broadcastId);
    return note === undefined ? { kind: result } : { kind: result, detail: note };
  }

  private rememberPhoto(broadcastId: number, fileId: string): void {
    if (this.photoIds.has(broadcastId)) return;
    if (this.photoIds.size >= 100) this.photoIds.delete(this.photoIds.keys().next().value as number);
    this.photoIds.set(broadcastId, fileId);
  }

  private skip(detail: string): DeliveryOutcome {
    this.results.inc({ result: 'skipped' });
    return { kind: 'skipped', detail };
  }
}
