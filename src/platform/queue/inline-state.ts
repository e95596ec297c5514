import type { JobState } from './queue.js';

export interface Waiter {
  resolve(value: unknown): void;
  reject(err: Error): void;
}

export interface InlineJob {
  id: string;
  name: string;
  queue: string;
  /** A JSON copy of what was enqueued, so handlers see what BullMQ would give them. */
  payload: unknown;
  maxAttempts: number;
  /** 0 = none; runs before prioritized jobs, like BullMQ. */
  priority: number;
  dedupeId: string | undefined;
  seq: number;
  state: JobState;
  attemptsMade: number;
  failedReason?: string;
  result?: unknown;
  finishedAt?: number;
  timer?: NodeJS.Timeout;
  waiters: Waiter[];
}

/** One queue of the inline adapter: its jobs by state and what gates dispatching. */
export interface QueueState {
  name: string;
  concurrency: number;
  limiter: { max: number; durationMs: number } | undefined;
  waiting: InlineJob[];
  delayed: Set<InlineJob>;
  active: Set<InlineJob>;
  running: Set<Promise<void>>;
  completed: InlineJob[];
  failed: InlineJob[];
  processing: boolean;
  paused: boolean;
  /** Set by ctx.rateLimited(ms): nothing starts before it. */
  limitedUntil: number;
  window: { start: number; count: number };
  wake: NodeJS.Timeout | undefined;
}

export function newQueueState(name: string, concurrency: number, limiter: QueueState['limiter']): QueueState {
  return {
    name,
    concurrency,
    limiter,
    waiting: [],
    delayed: new Set(),
    active: new Set(),
    running: new Set(),
    completed: [],
    failed: [],
    processing: false,
    paused: false,
    limitedUntil: 0,
    window: { start: 0, count: 0 },
    wake: undefined,
  };
}

/** Insert in run order: jobs without priority first, then by priority, FIFO within each. */
export function pushWaiting(q: QueueState, job: InlineJob): void {
  job.state = 'waiting';
  const before = (a: InlineJob, b: InlineJob) => a.priority - b.priority || a.seq - b.seq;
  const last = q.waiting.at(-1);
  // Plain FIFO appends stay O(1); only prioritized or retried jobs pay for the scan.
  if (!last || before(last, job) < 0) q.waiting.push(job);
  else {
    const at = q.waiting.findIndex((other) => before(job, other) < 0);
    q.waiting.splice(at === -1 ? q.waiting.length : at, 0, job);
  }
}

/**
 * Take the next waiting job if the rate limits allow it now, counting it against the limiter;
 * otherwise return the time at which to try again. Callers check there is a waiting job.
 */
export function takeNext(q: QueueState, now: number): InlineJob | number {
  if (q.limitedUntil > now) return q.limitedUntil;
  if (q.limiter) {
    // A fixed window opened by the first job in it, as BullMQ's limiter key does.
    if (now - q.window.start >= q.limiter.durationMs) q.window = { start: now, count: 0 };
    if (q.window.count >= q.limiter.max) return q.window.start + q.limiter.durationMs;
  }
  const job = q.waiting.shift();
  if (!job) return now + 1;
  if (q.limiter) q.window.count++;
  return job;
}
