import type { Metrics } from '../../platform/metrics.js';

/** Run outcomes, the `outcome` label of the run counter and histogram. */
export type RunOutcome =
  | 'ok'
  | 'validation'
  | 'execution_error'
  | 'out_of_memory'
  | 'interrupted'
  | 'timeout'
  | 'cancelled'
  | 'unavailable'
  /** Not a ComfyUI failure: a bug on our side. */
  | 'error';

const RUN_BUCKETS = [1, 2, 5, 10, 20, 30, 45, 60, 90, 120, 180, 300];

/** The ComfyUI integration's Prometheus metrics, every one labelled by backend name. */
export function createComfyMetrics(metrics: Metrics) {
  return {
    up: metrics.gauge({
      name: 'vitte_comfyui_backend_up',
      help: '1 while the ComfyUI backend answers its health probe (/system_stats)',
      labelNames: ['backend'],
    }),
    slots: metrics.gauge({
      name: 'vitte_comfyui_backend_slots',
      help: 'Prompts this process may run on the backend at once',
      labelNames: ['backend'],
    }),
    inFlight: metrics.gauge({
      name: 'vitte_comfyui_in_flight',
      help: 'Prompts this process is running on the backend',
      labelNames: ['backend'],
    }),
    queueRemaining: metrics.gauge({
      name: 'vitte_comfyui_queue_remaining',
      help: "The backend's queue length (running and pending, every client)",
      labelNames: ['backend'],
    }),
    socketConnected: metrics.gauge({
      name: 'vitte_comfyui_socket_connected',
      help: '1 while the /ws socket to the backend is open',
      labelNames: ['backend'],
    }),
    socketReconnects: metrics.counter({
      name: 'vitte_comfyui_socket_reconnects_total',
      help: 'Times the /ws socket to the backend was re-opened after dropping',
      labelNames: ['backend'],
    }),
    historyFallbacks: metrics.counter({
      name: 'vitte_comfyui_history_fallback_polls_total',
      help: '/history polls made because the socket was silent or down during a run',
      labelNames: ['backend'],
    }),
    runs: metrics.counter({
      name: 'vitte_comfyui_runs_total',
      help: "Image runs by backend and outcome; backend 'none' when no slot could be had",
      labelNames: ['backend', 'outcome'],
    }),
    runDuration: metrics.histogram({
      name: 'vitte_comfyui_run_duration_seconds',
      help: 'Image run duration (queue wait included) by backend and outcome',
      labelNames: ['backend', 'outcome'],
      buckets: RUN_BUCKETS,
    }),
  };
}

export type ComfyMetrics = ReturnType<typeof createComfyMetrics>;
