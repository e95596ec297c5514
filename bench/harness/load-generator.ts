import { Agent, request } from 'node:http';
import { percentile } from '../stats.js';

/** Percentiles of one latency, in milliseconds. */
export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface ClosedLoopResult {
  users: number;
  /** Length of the measured window (after warm-up). */
  seconds: number;
  /** Iterations that finished inside the measured window. */
  completed: number;
  /** Every iteration that finished, warm-up and the tail included: divide a counter delta by this. */
  finished: number;
  perSecond: number;
  errors: number;
  firstError: string | undefined;
  latencies: Record<string, LatencySummary>;
}

export interface ClosedLoopOptions {
  users: number;
  warmupMs: number;
  durationMs: number;
  /**
   * One iteration of user `user` (0-based), e.g. post an update and wait for its answer. Returns
   * named latencies in ms; a throw counts as an error.
   */
  iteration: (user: number) => Promise<Record<string, number>>;
  /** Called when the measured window opens and when it closes (e.g. to read CPU counters). */
  window?: { open(): void; close(): void };
}

export function summarize(values: number[]): LatencySummary {
  return {
    count: values.length,
    p50: percentile(values, 50),
    p90: percentile(values, 90),
    p99: percentile(values, 99),
    max: values.length ? Math.max(...values) : Number.NaN,
  };
}

/**
 * Closed-loop load: `users` virtual users, each starting its next iteration only when the previous
 * one is done — throughput is what the system sustains, latency is not inflated by a queue the
 * generator builds. Iterations finishing during the warm-up are dropped; the run then measures for
 * `durationMs` and lets the iterations in flight finish unrecorded.
 */
export async function runClosedLoop(opts: ClosedLoopOptions): Promise<ClosedLoopResult> {
  const start = performance.now();
  const from = start + opts.warmupMs;
  const until = from + opts.durationMs;
  const samples = new Map<string, number[]>();
  let completed = 0;
  let finished = 0;
  let errors = 0;
  let firstError: string | undefined;
  const timers = opts.window
    ? [
        setTimeout(opts.window.open, opts.warmupMs),
        setTimeout(opts.window.close, opts.warmupMs + opts.durationMs),
      ]
    : [];

  const user = async (u: number) => {
    while (performance.now() < until) {
      try {
        const latencies = await opts.iteration(u);
        const done = performance.now();
        finished += 1;
        if (done < from || done > until) continue;
        completed += 1;
        for (const [name, ms] of Object.entries(latencies)) {
          const list = samples.get(name);
          if (list) list.push(ms);
          else samples.set(name, [ms]);
        }
      } catch (err) {
        errors += 1;
        firstError ??= err instanceof Error ? err.message : String(err);
        // A refused connection fails at once: do not spin.
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: opts.users }, (_, u) => user(u)));
  } finally {
    for (const t of timers) clearTimeout(t);
  }
  const seconds = opts.durationMs / 1000;
  return {
    users: opts.users,
    seconds,
    completed,
    finished,
    perSecond: completed / seconds,
    errors,
    firstError,
    latencies: Object.fromEntries([...samples].map(([name, values]) => [name, summarize(values)])),
  };
}

export interface WebhookPoster {
  /** POST one update; resolves with the milliseconds until the complete answer, throws unless 200. */
  post(update: unknown): Promise<number>;
  close(): void;
}

/**
 * Posts updates the way Telegram delivers them: JSON with the secret header, over keep-alive
 * connections (one per concurrent user at most).
 */
export function webhookPoster(opts: { url: string; secret: string; maxSockets: number }): WebhookPoster {
  const target = new URL(opts.url);
  const agent = new Agent({ keepAlive: true, maxSockets: opts.maxSockets });
  return {
    post(update) {
      const body = JSON.stringify(update);
      const started = performance.now();
      return new Promise<number>((resolve, reject) => {
        const req = request(
          {
            agent,
            host: target.hostname,
            port: target.port,
            path: target.pathname,
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(body),
              'x-telegram-bot-api-secret-token': opts.secret,
            },
          },
          (res) => {
            res.resume();
            res.on('end', () => {
              if (res.statusCode === 200) resolve(performance.now() - started);
              else reject(new Error(`webhook answered ${res.statusCode}`));
            });
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    },
    close: () => agent.destroy(),
  };
}
