import { z } from 'zod';
import { defineJobs } from '../platform/queue/index.js';

const id = z.number().int().positive();

/** A scheduled maintenance job: no payload (it works on whatever is due), on the maintenance queue. */
const maintenance = (attempts: number, timeoutMs?: number) => ({
  queue: 'maintenance' as const,
  schema: z.object({}),
  attempts,
  ...(timeoutMs === undefined ? {} : { timeoutMs }),
});

/**
 * Every background job: name → queue, payload schema, retry policy. Payloads carry ids, never
 * secrets or whole objects. Each job has exactly one handler (checked when the worker starts).
 */
export const jobs = defineJobs({
  'system.ping': { queue: 'system', schema: z.object({ echo: z.string().max(200) }), timeoutMs: 10_000 },

  'chat.reply': {
    queue: 'chat',
    schema: z.object({ dialogId: id }),
    attempts: 3,
    backoffMs: 2_000,
    timeoutMs: 10 * 60_000,
  },
  'chat.summarize': {
    queue: 'chat',
    schema: z.object({ dialogId: id }),
    attempts: 2,
    backoffMs: 10_000,
    timeoutMs: 5 * 60_000,
  },
  'chat.sweep': maintenance(1),

  'dialogs.delete-old-messages': maintenance(2, 30 * 60_000),
  'subscriptions.expire': maintenance(2),
  'subscriptions.reset-quotas': maintenance(2, 30 * 60_000),

  // Broadcasts: start materializes one delivery row per recipient and enqueues their jobs; tick starts
  // scheduled broadcasts and re-enqueues deliveries left pending (after a crash or a resume).
  'broadcast.start': {
    queue: 'broadcast',
    schema: z.object({ broadcastId: id }),
    attempts: 5,
    timeoutMs: 30 * 60_000,
  },
  'broadcast.tick': maintenance(1),
  // Deliveries share the 'delivery' queue and its global rate limit (BROADCAST_RATE_PER_SEC).
  'broadcast.deliver': {
    queue: 'delivery',
    schema: z.object({ broadcastId: id, userId: id }),
    attempts: 5,
    backoffMs: 5_000,
    timeoutMs: 60_000,
  },
  // Payments: one refund per payment (its own queue, so broadcasts never delay money going back);
  // retried with backoff while Telegram's answer is unknown, reconciling before each new call.
  'payments.refund': {
    queue: 'payments',
    schema: z.object({ paymentId: id }),
    attempts: 8,
    backoffMs: 2_000,
    timeoutMs: 5 * 60_000,
  },
  'payments.sweep': maintenance(1),
  // Pictures: one job per picture on its own queue (the GPUs are the limit, not the worker);
  // the deadline is a setting (at most 9 minutes), so an attempt may run up to ten.
  'images.generate': {
    queue: 'images',
    schema: z.object({ jobId: id }),
    attempts: 3,
    backoffMs: 5_000,
    timeoutMs: 10 * 60_000,
  },
  'images.sweep': maintenance(1),
  'retention.scan': maintenance(1, 10 * 60_000),
  'retention.send': {
    queue: 'delivery',
    schema: z.object({ userId: id, stage: z.number().int().min(1) }),
    attempts: 3,
    backoffMs: 5_000,
  },
});

export type Jobs = typeof jobs;
