import { validateTelegramHtml } from '../../integrations/telegram/format/telegram-html.js';
import type { User } from '../../platform/db/schema.js';
import type { Logger } from '../../platform/logger.js';
import type { Metrics } from '../../platform/metrics.js';
import type { JobQueue } from '../../platform/queue/index.js';
import {
  type DeliveryOutcome,
  DeliveryUnavailableError,
  type MessageSender,
} from '../broadcasts/delivery-sender.js';
import type { Jobs } from '../jobs.js';
import type { SettingValue } from '../settings/settings.definitions.js';
import type { SettingsService } from '../settings/settings.service.js';
import type { RetentionRepository } from './retention.repository.js';
import { isInWindow } from './retention-window.js';

/** The languages a stage's text comes in. */
export type StageLocale = keyof SettingValue<'retention.stages'>[number]['text'];

export interface RetentionServiceDeps {
  repo: RetentionRepository;
  /**
   * The language a user reads, by the bot's rules (a chosen language, else Telegram's). Injected:
   * those rules live with the bot's translations, and the domain stays free of grammY.
   */
  localeOf: (user: Pick<User, 'language' | 'language_code'>) => StageLocale;
  settings: SettingsService;
  users: { find(id: number): Promise<User | undefined>; markBotBlocked(id: number): Promise<boolean> };
  /** Undefined without BOT_TOKEN. */
  sender: MessageSender | undefined;
  queue: Pick<JobQueue<Jobs>, 'enqueue'>;
  logger: Logger;
  metrics: Metrics;
  /** Now, for the sending window (tests move it). */
  clock?: () => Date;
}

const SCAN_BATCH = 1_000;
const DAY_MS = 86_400_000;

/**
 * Reminders after days of inactivity (`retention.stages`), each stage at most once per user, only
 * inside `retention.window`, never to banned, bot-blocked or opted-out users. They go through the
 * same rate-limited 'delivery' queue as broadcasts. A stage is identified by its `days`, so
 * reordering or re-wording the stages does not re-send anything.
 *
 * At most once: the log row is written before sending. A worker killed between the two leaves a
 * 'sending' row and that stage is skipped for the user — a missed reminder is better than a
 * duplicate one.
 */
export class RetentionService {
  private readonly results;
  private readonly clock: () => Date;

  constructor(private readonly d: RetentionServiceDeps) {
    this.clock = d.clock ?? (() => new Date());
    this.results = d.metrics.counter({
      name: 'vitte_retention_messages_total',
      help: 'Retention reminders by result (sent, blocked, failed, rate_limited, error, skipped)',
      labelNames: ['result'],
    });
  }

  /** Whether now is inside the configured sending window. */
  async inWindow(): Promise<boolean> {
    return isInWindow(await this.d.settings.get('retention.window'), this.clock());
  }

  /** `retention.scan`: queue one `retention.send` per user who is due a stage. */
  async scan(signal?: AbortSignal): Promise<{ enqueued: number; due: number } | { skipped: string }> {
    if (!(await this.inWindow())) return { skipped: 'outside the sending window' };
    const stages = (await this.d.settings.get('retention.stages')).map((s) => s.days);
    if (stages.length === 0) return { skipped: 'no stages configured' };
    let afterId = 0;
    let due = 0;
    let enqueued = 0;
    for (;;) {
      signal?.throwIfAborted();
      const batch = await this.d.repo.due(stages, afterId, SCAN_BATCH);
      if (batch.length === 0) break;
      due += batch.length;
      const results = await Promise.all(
        batch.map((r) =>
          this.d.queue.enqueue('retention.send', r, { key: `retention-${r.userId}-${r.stage}` }),
        ),
      );
      enqueued += results.filter((r) => !r.deduplicated).length;
      afterId = batch[batch.length - 1]!.userId;
      if (batch.length < SCAN_BATCH) break;
    }
    if (due) this.d.logger.info({ due, enqueued }, 'retention reminders queued');
    return { due, enqueued };
  }

  /** `retention.send`: one stage to one user, re-checking everything the scan saw. */
  async send(
    userId: number,
    stage: number,
    opts: { isLastAttempt: boolean; signal?: AbortSignal | undefined },
  ): Promise<DeliveryOutcome> {
    // Jobs can wait behind a big broadcast; the world may have changed since the scan.
    if (!(await this.inWindow())) return this.skip('outside the sending window');
    const config = (await this.d.settings.get('retention.stages')).find((s) => s.days === stage);
    if (!config) return this.skip('stage no longer configured');
    const user = await this.d.users.find(userId);
    if (!user) return this.skip('no such user');
    if (user.banned_at || user.bot_blocked_at || !user.notifications_enabled)
      return this.skip('not eligible');
    if (user.last_active_at.getTime() > Date.now() - stage * DAY_MS) return this.skip('active again');
    const text = config.text[this.d.localeOf(user)] || config.text.en || config.text.ru;
    if (!text.trim()) return this.skip('no text for the stage');

    const { repo } = this.d;
    if (!(await repo.insertLog(userId, stage))) return this.skip('already sent');
    if (!this.d.sender) {
      await repo.deleteLog(userId, stage);
      throw new DeliveryUnavailableError('no BOT_TOKEN configured', `retention stage ${stage} to ${userId}`);
    }
    // Operators may format reminders with Telegram HTML; anything that is not valid HTML goes as plain text.
    const outcome = await this.d.sender.send(
      userId,
      { text, html: validateTelegramHtml(text).ok },
      opts.signal,
    );
    switch (outcome.kind) {
      case 'sent':
        await repo.setStatus(userId, stage, 'sent');
        return this.count('sent');
      case 'rate_limited':
        await repo.deleteLog(userId, stage);
        this.results.inc({ result: 'rate_limited' });
        return { kind: 'rate_limited', retryAfterMs: outcome.retryAfterMs };
      case 'blocked':
        await repo.setStatus(userId, stage, 'blocked');
        await this.d.users.markBotBlocked(userId);
        return this.count('blocked', outcome.description);
      case 'rejected':
        await repo.setStatus(userId, stage, 'failed');
        return this.count('failed', outcome.description);
      case 'unavailable':
        if (opts.isLastAttempt) {
          await repo.setStatus(userId, stage, 'failed');
          return this.count('failed', outcome.description);
        }
        await repo.deleteLog(userId, stage);
        this.results.inc({ result: 'error' });
        throw new DeliveryUnavailableError(outcome.description, `retention stage ${stage} to ${userId}`);
    }
  }

  private count(kind: 'sent' | 'blocked' | 'failed', detail?: string): DeliveryOutcome {
    this.results.inc({ result: kind });
    return detail === undefined ? { kind } : { kind, detail };
  }

  private skip(detail: string): DeliveryOutcome {
    this.results.inc({ result: 'skipped' });
    return { kind: 'skipped', detail };
  }
}
