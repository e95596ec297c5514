import { createConnection, type Socket } from 'node:net';
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

const ANSWER_TIMEOUT_MS = 30_000;

/** One keep-alive HTTP/1.1 connection carrying one request at a time. */
class Connection {
  private pending:
    | { started: number; resolve: (ms: number) => void; reject: (err: Error) => void }
    | undefined;
  private received = '';
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly onIdle: (c: Connection) => void,
    onClosed: (c: Connection) => void,
  ) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (err) => this.settle(err));
    socket.on('close', () => {
      onClosed(this);
      this.settle(new Error('connection closed before the answer'));
    });
  }

  send(request: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.pending = { started: performance.now(), resolve, reject };
      this.timer = setTimeout(
        () => this.socket.destroy(new Error(`webhook did not answer within ${ANSWER_TIMEOUT_MS} ms`)),
        ANSWER_TIMEOUT_MS,
      );
      this.socket.write(request);
    });
  }

  destroy(): void {
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    this.received += chunk.toString('latin1');
    const end = this.received.indexOf('\r\n\r\n');
    if (end < 0) return;
    const headers = this.received.slice(0, end).toLowerCase();
    const length = /\r\ncontent-length: *(\d+)/.exec(headers);
    if (!length) {
      this.settle(
        new Error(`an answer without content-length is not supported: ${headers.split('\r\n')[0]}`),
      );
      this.socket.destroy();
      return;
    }
    if (this.received.length < end + 4 + Number(length[1])) return;
    const status = Number(headers.slice(9, 12));
    if (/\r\nconnection: *close/.test(headers)) this.socket.end();
    else this.onIdle(this);
    this.settle(status === 200 ? undefined : new Error(`webhook answered ${status}`));
  }

  private settle(err: Error | undefined): void {
    const pending = this.pending;
    if (!pending) return;
    this.pending = undefined;
    this.received = '';
    clearTimeout(this.timer);
    if (err) pending.reject(err);
    else pending.resolve(performance.now() - pending.started);
  }
}

/**
 * Posts updates the way Telegram delivers them: JSON with the secret header over keep-alive
 * HTTP/1.1 connections, one per request in flight (so one per concurrent user). Written on raw
 * sockets: node:http's client spends more CPU per request in this same process than the servers
 * being measured can afford to lose on two shared cores (it cut the null bot's rate by 15-25 % at
 * 20 users here, where this poster and autocannon matched), and autocannon cannot run iterations
 * that wait for the sink (chat answers, pre-checkout answers). The servers measured answer with a
 * content-length; anything else is refused with a clear error.
 */
export function webhookPoster(opts: { url: string; secret: string }): WebhookPoster {
  const target = new URL(opts.url);
  const head = `POST ${target.pathname} HTTP/1.1\r\nhost: ${target.host}\r\ncontent-type: application/json\r\nx-telegram-bot-api-secret-token: ${opts.secret}\r\ncontent-length: `;
  const idle: Connection[] = [];
  const open = new Set<Connection>();
  const connect = () =>
    new Promise<Connection>((resolve, reject) => {
      const socket = createConnection({ host: target.hostname, port: Number(target.port), noDelay: true });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        const connection = new Connection(
          socket,
          (c) => idle.push(c),
          (c) => {
            open.delete(c);
            if (idle.includes(c)) idle.splice(idle.indexOf(c), 1);
          },
        );
        open.add(connection);
        resolve(connection);
      });
    });
  return {
    async post(update) {
      const connection = idle.pop() ?? (await connect());
      const body = JSON.stringify(update);
      return connection.send(`${head}${Buffer.byteLength(body)}\r\n\r\n${body}`);
    },
    close() {
      for (const c of open) c.destroy();
    },
  };
}
