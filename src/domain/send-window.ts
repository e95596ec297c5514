import type { Metrics } from '../platform/metrics.js';

/**
 * How long a message Telegram has accepted waits for its send to be recorded. Telegram has no
 * idempotency key: a worker killed inside this window sends that message again when its job is
 * retried, so this is the duplicate window, measured (README, "Duplicates after a crash").
 */
export function sendWindowHistogram(metrics: Metrics) {
  return metrics.histogram({
    name: 'vitte_send_unrecorded_seconds',
    help: "Time from Telegram's answer to a send until the send is recorded (a worker killed inside it repeats the send)",
    labelNames: ['flow'],
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  });
}
