import type { Metrics } from '../../platform/metrics.js';

const WAIT_BUCKETS = [0.1, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600];
const GENERATION_BUCKETS = [0.5, 1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300];

/** The images domain's Prometheus metrics (the per-backend ones are the ComfyUI client's). */
export function createImagesMetrics(metrics: Metrics) {
  return {
    requests: metrics.counter({
      name: 'vitte_image_requests_total',
      help: 'Picture requests by result: queued, or why they were refused before any GPU time',
      labelNames: ['source', 'result'],
    }),
    outcomes: metrics.counter({
      name: 'vitte_images_total',
      help: 'Finished pictures by outcome (succeeded, undelivered, failed, cancelled, timed_out)',
      labelNames: ['outcome'],
    }),
    queueWait: metrics.histogram({
      name: 'vitte_image_queue_wait_seconds',
      help: 'From the request to a worker taking the picture',
      buckets: WAIT_BUCKETS,
    }),
    generation: metrics.histogram({
      name: 'vitte_image_generation_seconds',
      help: 'From a worker taking the picture to its PNG being stored (GPU wait and runs included)',
      buckets: GENERATION_BUCKETS,
    }),
    runs: metrics.counter({
      name: 'vitte_image_runs_total',
      help: 'ComfyUI runs ended by the decision taken (ok, new_run, wait, fail, time_out, stop, abandon)',
      labelNames: ['decision'],
    }),
    leaseLost: metrics.counter({
      name: 'vitte_image_lease_lost_total',
      help: 'Attempts that found their picture cancelled or taken over while working on it',
    }),
  };
}

export type ImagesMetrics = ReturnType<typeof createImagesMetrics>;
