import type { Broadcast, BroadcastAudience, BroadcastStatus } from '../../platform/db/schema.js';
import type { Transactor } from '../../platform/db/transactor.js';
import {
  ConflictError,
  NotFoundError,
  TooManyRequestsError,
  ValidationError,
} from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import type { Metrics } from '../../platform/metrics.js';
import type { JobQueue } from '../../platform/queue/index.js';
import type { Change } from '../change.js';
import type { Jobs } from '../jobs.js';
import { BroadcastDelivery, toOutgoing } from './broadcast-delivery.js';
import { type BroadcastAction, nextStatus, transitionOf } from './broadcast-transitions.js';
import type { BroadcastsRepository, DeliveryCounts } from './broadcasts.repository.js';
import {
  audienceIssues,
  type BroadcastContentInput,
  contentIssues,
  throwIfIssues,
} from './broadcasts.validation.js';
import type { DeliveryOutcome, MessageSender } from './delivery-sender.js';

export interface CreateBroadcastInput extends BroadcastContentInput {
  audience: BroadcastAudience;
  /** Start automatically at this time (the next broadcast.tick after it); otherwise stays a draft. */
  scheduledAt?: Date | null | undefined;
  /** Who created it: an admin's username, or "cli". */
  createdBy: string;
}

export type BroadcastProgress = DeliveryCounts & { total: number };

export interface BroadcastsServiceDeps {
  tx: Transactor;
  repo: BroadcastsRepository;
  users: { markBotBlocked(id: number): Promise<boolean> };
  /** Undefined without BOT_TOKEN: then broadcasts can be managed but not delivered. */
  sender: MessageSender | undefined;
  queue: Pick<JobQueue<Jobs>, 'enqueue' | 'kind'>;
  /** BROADCAST_RATE_PER_SEC: sizes how many deliveries are queued ahead per broadcast. */
  ratePerSec: number;
  logger: Logger;
  metrics: Metrics;
}

/** A scheduled time this far in the past is a mistake, not "start now". */
const PAST_SCHEDULE_TOLERANCE_MS = 60_000;
const ENQUEUE_CONCURRENCY = 100;

/**
 * Broadcasts: one delivery row per recipient, sent by `broadcast.deliver` jobs on the rate-limited
 * 'delivery' queue. Only a window of deliveries (about two minutes' worth at the configured rate)
 * is queued per broadcast at a time; `broadcast.tick` tops it up every minute. So a pause or a
 * cancel leaves at most that window of jobs to drain (each a no-op that still costs the queue a
 * slot), not the whole audience, and a Redis that lost its jobs costs nothing: the rows are the
 * truth and the tick re-queues them.
 */
export class BroadcastsService {
  private readonly delivery: BroadcastDelivery;
  private readonly window: number;

  constructor(private readonly d: BroadcastsServiceDeps) {
    this.window = Math.max(100, Math.ceil(d.ratePerSec * 120));
    this.delivery = new BroadcastDelivery({
      repo: d.repo,
      users: d.users,
      sender: d.sender,
      logger: d.logger,
      metrics: d.metrics,
      onCompleted: (id) => this.logChange(id, 'running', 'completed'),
    });
    const repo = d.repo;
    const logger = d.logger;
    d.metrics.gauge({
      name: 'vitte_broadcasts_running',
      help: 'Broadcasts currently running (from the database)',
      async collect() {
        try {
          this.set(await repo.countRunning());
        } catch (err) {
          logger.warn({ err }, 'could not count running broadcasts');
        }
      },
    });
  }

  /** Validate and save a draft (or a scheduled broadcast). Throws ValidationError listing every problem. */
  async create(input: CreateBroadcastInput): Promise<Broadcast> {
    const { issues, content } = contentIssues(input);
    const audience = audienceIssues(input.audience);
    issues.push(...audience.issues);
    const at = input.scheduledAt ?? null;
    if (at !== null && !(at instanceof Date && Number.isFinite(at.getTime()))) {
      issues.push({ path: 'scheduledAt', message: 'must be a date' });
    } else if (at !== null && at.getTime() < Date.now() - PAST_SCHEDULE_TOLERANCE_MS) {
      issues.push({ path: 'scheduledAt', message: 'must be in the future' });
    }
    const createdBy = input.createdBy?.trim();
    if (!createdBy) issues.push({ path: 'createdBy', message: 'is required' });
    throwIfIssues(issues, 'broadcast');
    const b = await this.d.repo.insert({
      text: content.text,
      photo: content.photo,
      button_text: content.button?.text ?? null,
      button_url: content.button?.url ?? null,
      audience: JSON.stringify(audience.audience),
      status: at ? 'scheduled' : 'draft',
      scheduled_at: at,
      created_by: createdBy.slice(0, 200),
    });
    this.d.logger.info(
      { broadcastId: b.id, status: b.status, audience: b.audience, scheduledAt: at, createdBy },
      'broadcast created',
    );
    return b;
  }

  /** How many users the audience reaches right now (banned, bot-blocked and opted-out excluded). */
  countAudience(audience: BroadcastAudience): Promise<number> {
    const parsed = audienceIssues(audience);
    throwIfIssues(parsed.issues, 'audience');
    return this.d.repo.countAudience(parsed.audience as BroadcastAudience);
  }

  async get(id: number): Promise<Broadcast> {
    const b = await this.d.repo.find(id);
    if (!b) throw new NotFoundError(`broadcast ${id} not found`);
    return b;
  }

  /** Newest first; `beforeId` is the keyset cursor (the last id of the previous page). */
  list(opts: { limit: number; beforeId?: number | undefined }): Promise<Broadcast[]> {
    return this.d.repo.list(Math.min(Math.max(Math.trunc(opts.limit) || 1, 1), 200), opts.beforeId);
  }

  async progress(id: number): Promise<BroadcastProgress> {
    await this.get(id);
    const counts = await this.d.repo.counts(id);
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    return { total, ...counts };
  }

  /** Start now: recipients are chosen when the start job runs. */
  async start(id: number): Promise<Change<Broadcast>> {
    const change = await this.move(id, 'start', { started_at: new Date() });
    // A start job that is lost (Redis down) is queued again by broadcast.tick: it starts every
    // running broadcast that has no delivery rows yet.
    await this.d.tx.afterCommit(() => this.enqueueStart(id));
    return change;
  }

  async schedule(id: number, at: Date): Promise<Change<Broadcast>> {
    if (!(at instanceof Date) || !Number.isFinite(at.getTime())) {
      throw new ValidationError('invalid schedule', {
        issues: [{ path: 'scheduledAt', message: 'must be a date' }],
      });
    }
    if (at.getTime() < Date.now() - PAST_SCHEDULE_TOLERANCE_MS) {
      throw new ValidationError('invalid schedule', {
        issues: [{ path: 'scheduledAt', message: 'must be in the future' }],
      });
    }
    return this.move(id, 'schedule', { scheduled_at: at });
  }

  /** Deliveries not yet sent stay pending; the ones in flight finish. */
  pause(id: number): Promise<Change<Broadcast>> {
    return this.move(id, 'pause', {});
  }

  async resume(id: number): Promise<Change<Broadcast>> {
    const change = await this.move(id, 'resume', {});
    // What a lost feed would have queued, broadcast.tick queues within a minute.
    await this.d.tx.afterCommit(() => this.feed(id));
    return change;
  }

  /** Deliveries not yet sent become cancelled; the ones in flight finish. */
  cancel(id: number): Promise<Change<Broadcast>> {
    return this.move(id, 'cancel', { finished_at: new Date() }, () =>
      this.d.repo.closeUnheld(id, undefined, 'broadcast cancelled'),
    );
  }

  /** Send the content to one chat now (an admin checking how it looks). Nothing is stored. */
  async testSend(input: BroadcastContentInput, telegramUserId: number): Promise<{ messageId: number }> {
    const { issues, content } = contentIssues(input);
    if (!Number.isSafeInteger(telegramUserId) || telegramUserId <= 0) {
      issues.push({ path: 'telegramUserId', message: 'must be a Telegram user id' });
    }
    throwIfIssues(issues, 'test message');
    const sender = this.requireSender();
    const outcome = await sender.send(telegramUserId, toOutgoing(content));
    switch (outcome.kind) {
      case 'sent':
        return { messageId: outcome.messageId };
      case 'rate_limited':
        throw new TooManyRequestsError('Telegram asks to slow down; try again shortly', {
          retryAfterMs: outcome.retryAfterMs,
        });
      case 'blocked':
        throw new ConflictError('this user has blocked the bot', { description: outcome.description });
      case 'rejected':
        throw new ValidationError(`Telegram refused the message: ${outcome.description}`, {
          issues: [{ path: 'telegramUserId', message: outcome.description }],
        });
      case 'unavailable':
        throw new Error(`Telegram is unavailable: ${outcome.description}`);
    }
  }

  // --- job entry points -------------------------------------------------------------------

  /** `broadcast.start`: materialize the recipients, then queue the first window of deliveries. */
  async runStart(id: number): Promise<{ total: number; enqueued: number } | { skipped: string }> {
    const m = await this.d.repo.materialize(id);
    if (!m) return { skipped: 'not running' };
    this.d.logger.info({ broadcastId: id, total: m.total }, 'broadcast recipients chosen');
    if (m.total === 0) {
      const { from, to } = transitionOf('complete');
      if (await this.d.repo.transition(id, from, { status: to, finished_at: new Date() })) {
        this.logChange(id, 'running', to);
      }
      return { total: 0, enqueued: 0 };
    }
    if (m.status !== 'running') return { total: m.total, enqueued: 0 };
    return { total: m.total, enqueued: await this.feed(id) };
  }

  /** `broadcast.deliver`: one recipient. Throws when Telegram is unavailable (the job retries). */
  deliver(
    broadcastId: number,
    userId: number,
    opts: { isLastAttempt: boolean; signal?: AbortSignal },
  ): Promise<DeliveryOutcome> {
    return this.delivery.deliver(broadcastId, userId, opts);
  }

  /**
   * `broadcast.tick`: start scheduled broadcasts whose time came; for running ones, re-queue the
   * start if it never materialized, complete the finished, and top up the queued window (which
   * also re-queues deliveries whose worker died: their claim ran out).
   */
  async tick(): Promise<{ started: number; running: number; enqueued: number }> {
    const due = await this.d.repo.startDue();
    for (const id of due) {
      this.logChange(id, 'scheduled', 'running');
      await this.enqueueStart(id);
    }
    const running = await this.d.repo.runningIds();
    let enqueued = 0;
    for (const id of running) {
      if (due.includes(id)) continue;
      if (!(await this.d.repo.hasDeliveries(id))) await this.enqueueStart(id);
      else if (await this.d.repo.completeIfDone(id)) this.logChange(id, 'running', 'completed');
      else enqueued += await this.feed(id);
    }
    return { started: due.length, running: running.length, enqueued };
  }

  /**
   * After a worker (re)starts. A durable queue (Redis) still holds every job, and BullMQ hands the
   * jobs of a dead worker back itself. The in-process queue lost them all with the process, so
   * every claim is void (nothing can be in flight yet) and everything open is re-queued at once.
   */
  async onWorkerStart(): Promise<void> {
    if (this.d.queue.kind !== 'inline') return;
    const released = await this.d.repo.releaseAllClaims();
    const r = await this.tick();
    if (r.running || released) this.d.logger.info({ ...r, released }, 'broadcasts resumed after a restart');
  }

  // --- internals --------------------------------------------------------------------------

  /**
   * Queue deliveries for the first pending rows and for rows whose claim ran out. Re-queuing one
   * whose job still exists (waiting out a 429, or put off until that claim ends) is harmless: the
   * dedupe key turns the enqueue into a no-op.
   */
  private async feed(id: number): Promise<number> {
    const [pending, stale] = await Promise.all([
      this.d.repo.pendingUserIds(id, this.window),
      this.d.repo.unheldSendingUserIds(id, this.window),
    ]);
    const users = [...stale, ...pending];
    let fresh = 0;
    for (let i = 0; i < users.length; i += ENQUEUE_CONCURRENCY) {
      const results = await Promise.all(
        users
          .slice(i, i + ENQUEUE_CONCURRENCY)
          .map((userId) =>
            this.d.queue.enqueue(
              'broadcast.deliver',
              { broadcastId: id, userId },
              { key: `${id}-${userId}` },
            ),
          ),
      );
      fresh += results.filter((r) => !r.deduplicated).length;
    }
    if (fresh)
      this.d.logger.debug({ broadcastId: id, enqueued: fresh, stale: stale.length }, 'deliveries queued');
    return fresh;
  }

  private async enqueueStart(id: number): Promise<void> {
    await this.d.queue.enqueue('broadcast.start', { broadcastId: id }, { key: `start-${id}` });
  }

  /**
   * One state change in one transaction (the caller's, when it has one — e.g. with an audit row):
   * lock the row, check the action is allowed from its status, apply the patch and `alsoDo`. Jobs
   * are queued by the callers after the commit, so a rolled-back change queues nothing.
   */
  private async move(
    id: number,
    action: BroadcastAction,
    patch: Omit<Parameters<BroadcastsRepository['transition']>[2], 'status'>,
    alsoDo?: () => Promise<void>,
  ): Promise<Change<Broadcast>> {
    const change = await this.d.tx.run(async () => {
      const before = await this.d.repo.findForUpdate(id);
      if (!before) throw new NotFoundError(`broadcast ${id} not found`);
      const status = nextStatus(before.status, action);
      if (!status) {
        throw new ConflictError(`cannot ${action} a ${before.status} broadcast`, {
          status: before.status,
          action,
        });
      }
      const after = await this.d.repo.transition(id, transitionOf(action).from, { ...patch, status });
      if (!after) throw new Error(`broadcast ${id} changed under its row lock`);
      await alsoDo?.();
      return { before, after };
    });
    await this.d.tx.afterCommit(() => this.logChange(id, change.before.status, change.after.status));
    return change;
  }

  private logChange(id: number, from: BroadcastStatus, to: BroadcastStatus): void {
    this.d.logger.info({ broadcastId: id, from, to }, `broadcast ${to}`);
  }

  private requireSender(): MessageSender {
    if (!this.d.sender) throw new Error('sending needs BOT_TOKEN');
    return this.d.sender;
  }
}
