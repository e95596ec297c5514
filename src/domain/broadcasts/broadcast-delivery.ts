import type { Logger } from '../../platform/logger.js';
import type { Metrics } from '../../platform/metrics.js';
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
 * One delivery: claim the row, send, record the result, complete the broadcast after its last one.
 *
 * Crash safety. The row is the truth: 'pending' until claimed, 'sending' while a worker sends it,
 * then final. A worker that dies leaves its row 'sending' and its job active; the job comes back
 * (BullMQ's stalled check once the job's lock expires; with the in-process queue, the re-queue at
 * start-up) and claims the row again. That
 * re-send is right when the worker died before Telegram got the message. Telegram has no
 * idempotency key, so a worker killed after Telegram accepted a message but before the 'sent'
 * commit (one HTTP response plus one UPDATE, about a millisecond) cannot be told apart from one
 * killed just before sending: in that window only, a recipient can get the message twice. Nothing
 * is ever missed: a row only ends as sent, blocked, failed or cancelled.
 */
export class BroadcastDelivery {
  private readonly results;
  /** A broadcast photo's Telegram file_id once sent: Telegram fetches a URL only once per process. */
  private readonly photoIds = new Map<number, string>();

  constructor(private readonly d: BroadcastDeliveryDeps) {
    this.results = d.metrics.counter({
      name: 'vitte_broadcast_deliveries_total',
      help: 'Broadcast delivery attempts by result (sent, blocked, failed, rate_limited, error, skipped)',
      labelNames: ['result'],
    });
  }

  async deliver(
    broadcastId: number,
    userId: number,
    opts: { isLastAttempt: boolean; signal?: AbortSignal | undefined },
  ): Promise<DeliveryOutcome> {
    const { repo } = this.d;
    const claimed = await repo.claim(broadcastId, userId);
    if (!claimed) return this.unclaimed(broadcastId, userId);

    // The audience was chosen when the broadcast started; a user may have left it since.
    if (claimed.banned || !claimed.notificationsEnabled) {
      const detail = claimed.banned ? 'recipient is banned' : 'recipient turned notifications off';
      return this.end(broadcastId, userId, 'cancelled', { error: detail }, 'skipped', detail);
    }
    if (claimed.botBlocked) {
      const detail = 'recipient had blocked the bot';
      return this.end(broadcastId, userId, 'blocked', { error: detail }, 'blocked', detail);
    }

    if (!this.d.sender)
      throw new DeliveryUnavailableError('no BOT_TOKEN configured', `broadcast ${broadcastId} to ${userId}`);
    const photo = claimed.photo ? (this.photoIds.get(broadcastId) ?? claimed.photo) : null;
    const outcome = await this.d.sender.send(userId, toOutgoing({ ...claimed, photo }), opts.signal);
    switch (outcome.kind) {
      case 'sent':
        if (photo && outcome.photoFileId) this.rememberPhoto(broadcastId, outcome.photoFileId);
        return this.end(broadcastId, userId, 'sent', { messageId: outcome.messageId }, 'sent');
      case 'rate_limited':
        // The whole queue pauses (the job's caller) and this job runs again afterwards, claiming the
        // row it still holds. No database write first: every millisecond before the pause lets
        // other workers start more sends into Telegram's flood control.
        this.results.inc({ result: 'rate_limited' });
        return { kind: 'rate_limited', retryAfterMs: outcome.retryAfterMs };
      case 'blocked':
        await this.d.users.markBotBlocked(userId);
        return this.end(broadcastId, userId, 'blocked', { error: outcome.description }, 'blocked');
      case 'rejected':
        return this.end(
          broadcastId,
          userId,
          'failed',
          { error: outcome.description },
          'failed',
          outcome.description,
        );
      case 'unavailable':
        if (opts.isLastAttempt) {
          return this.end(
            broadcastId,
            userId,
            'failed',
            { error: outcome.description },
            'failed',
            outcome.description,
          );
        }
        await repo.release(broadcastId, userId, outcome.description);
        this.results.inc({ result: 'error' });
        throw new DeliveryUnavailableError(outcome.description, `broadcast ${broadcastId} to ${userId}`);
    }
  }

  /** The claim found nothing to send: already done, or the broadcast is not running. */
  private async unclaimed(broadcastId: number, userId: number): Promise<DeliveryOutcome> {
    const row = await this.d.repo.findDelivery(broadcastId, userId);
    if (!row) return this.skip('no such delivery');
    if (row.status !== 'pending' && row.status !== 'sending') return this.skip(`already ${row.status}`);
    if (row.broadcastStatus === 'cancelled' || row.broadcastStatus === 'completed') {
      await this.d.repo.finish(broadcastId, userId, 'cancelled', {
        error: `broadcast ${row.broadcastStatus}`,
      });
      return this.skip(`broadcast ${row.broadcastStatus}`);
    }
    // Paused. A row this job's own earlier attempt claimed (e.g. before a 429) goes back to pending;
    // resume re-queues the pending rows.
    if (row.status === 'sending') await this.d.repo.release(broadcastId, userId);
    return this.skip(`broadcast ${row.broadcastStatus}`);
  }

  private async end(
    broadcastId: number,
    userId: number,
    status: DeliveryResult,
    detail: { messageId?: number; error?: string },
    result: 'sent' | 'blocked' | 'failed' | 'skipped',
    note?: string,
  ): Promise<DeliveryOutcome> {
    await this.d.repo.finish(broadcastId, userId, status, detail);
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
