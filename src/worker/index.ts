import { hostname } from 'node:os';
import type { TelegramApp } from '../app.js';
import { broadcastsJobs } from '../domain/broadcasts/broadcasts.jobs.js';
import { chatJobs } from '../domain/chat/chat.jobs.js';
import { dialogsJobs } from '../domain/dialogs/dialogs.jobs.js';
import { imagesJobs, type RunImageAttempt } from '../domain/images/images.jobs.js';
import type { Jobs } from '../domain/jobs.js';
import { paymentsJobs } from '../domain/payments/payments.jobs.js';
import { retentionJobs } from '../domain/retention/retention.jobs.js';
import { subscriptionsJobs } from '../domain/subscriptions/subscriptions.jobs.js';
import { createNotifier } from '../integrations/telegram/notifier.js';
import { type JobHandlers, mergeHandlers } from '../platform/queue/index.js';
import { startImages } from './images.js';

/** Cron schedules (UTC). Idempotent: every worker start re-declares them, one run per tick overall. */
export const SCHEDULES = {
  'chat.sweep': '* * * * *',
  'subscriptions.expire': '*/5 * * * *',
  'subscriptions.reset-quotas': '7 * * * *',
  'dialogs.delete-old-messages': '30 3 * * *',
  'broadcast.tick': '* * * * *',
  'retention.scan': '*/15 * * * *',
  'payments.sweep': '* * * * *',
  'images.sweep': '* * * * *',
} as const;

/**
 * Every job's handler, from each domain. A job two domains register throws here; a job nobody
 * registers throws in queue.handle(). Either fails start-up naming the job.
 */
/** Without a ComfyUI pool in this process, a picture job is left for a worker that has one. */
const noImages: RunImageAttempt = async () => {
  throw new Error('this worker has no ComfyUI backends (COMFYUI_URLS)');
};

export function jobHandlers(app: TelegramApp, imageAttempt: RunImageAttempt = noImages): JobHandlers<Jobs> {
  const notify = createNotifier({ api: app.telegram, i18n: app.i18n, findUser: (id) => app.users.find(id) });
  return mergeHandlers<Jobs>(
    { 'system.ping': async ({ echo }) => ({ pong: echo, worker: `${hostname()}:${process.pid}` }) },
    chatJobs(app.chat, app.summaries),
    dialogsJobs(app.dialogs, app.settings),
    subscriptionsJobs(app.subscriptions, notify),
    broadcastsJobs(app.broadcasts),
    retentionJobs(app.retention),
    paymentsJobs(app.payments),
    imagesJobs(app.images, imageAttempt),
  );
}

/** Register handlers and schedules, then start processing. */
export async function startWorker(app: TelegramApp): Promise<void> {
  app.queue.handle(jobHandlers(app, await startImages(app)));
  // A job renamed or dropped since the last release would otherwise keep firing from its schedule.
  const stale = await app.queue.retainSchedules(Object.keys(SCHEDULES) as (keyof typeof SCHEDULES)[]);
  if (stale.length)
    app.logger.warn({ removed: stale }, 'removed the schedules of jobs this release does not have');
  for (const [name, cron] of Object.entries(SCHEDULES) as [keyof typeof SCHEDULES, string][]) {
    await app.queue.schedule(name, cron, {});
  }
  await app.queue.start();
  await app.broadcasts.onWorkerStart();
  app.logger.info({ queue: app.queue.kind, schedules: Object.keys(SCHEDULES) }, 'worker started');
}
