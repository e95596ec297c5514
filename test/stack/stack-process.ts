import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A program of the stack running as a real child process, its output kept for assertions. */
export interface StackProcess {
  readonly name: string;
  readonly child: ChildProcess;
  output(): string;
  /** Output lines that parse as JSON objects (pino logs, nginx's JSON access log). */
  jsonLines(): Record<string, unknown>[];
  /** Resolves once a line matches; rejects on timeout or when the process exits first. */
  waitForLine(match: RegExp | ((line: string) => boolean), timeoutMs?: number): Promise<string>;
  readonly exited: Promise<Exit>;
  /** Sends the signal (once) and waits for the exit; SIGKILL after `killAfterMs`. */
  stop(signal?: NodeJS.Signals, killAfterMs?: number): Promise<Exit>;
}

export interface SpawnOptions {
  cwd?: string;
  /** The whole environment of the child (nothing is inherited but PATH and HOME). */
  env?: Record<string, string>;
  /** Bytes of output kept (the tail); default 4 MB. */
  keepBytes?: number;
  /**
   * Send stdout and stderr to this file instead of a pipe: Node's stdio "pipes" are sockets, and a
   * program that opens /dev/stdout (nginx's `access_log /dev/stdout`) cannot open a socket that way.
   */
  logFile?: string;
}

export function spawnProcess(
  name: string,
  command: string,
  args: string[],
  opts: SpawnOptions = {},
): StackProcess {
  const fd = opts.logFile ? openSync(opts.logFile, 'a') : undefined;
  const child = spawn(command, args, {
    cwd: opts.cwd,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...opts.env },
    stdio: fd === undefined ? ['ignore', 'pipe', 'pipe'] : ['ignore', fd, fd],
  });
  if (fd !== undefined) closeSync(fd);
  const keep = opts.keepBytes ?? 4 * 1024 * 1024;
  let out = '';
  let partial = '';
  const waiters = new Set<(line: string) => boolean>();
  const onData = (d: Buffer) => {
    const text = d.toString();
    out += text;
    if (out.length > keep) out = out.slice(-keep);
    partial += text;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) for (const w of [...waiters]) if (w(line)) waiters.delete(w);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  // With a log file there are no data events: read the file's new bytes instead.
  let read = 0;
  const poll =
    opts.logFile === undefined
      ? undefined
      : setInterval(() => {
          const bytes = readFileSync(opts.logFile!);
          if (bytes.length > read) onData(bytes.subarray(read));
          read = bytes.length;
        }, 50);
  const output = () => {
    if (opts.logFile) {
      const bytes = readFileSync(opts.logFile);
      if (bytes.length > read) onData(bytes.subarray(read));
      read = bytes.length;
    }
    return out;
  };
  const exited = new Promise<Exit>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
    // A program that cannot start at all (ENOENT) never emits 'exit'.
    child.on('error', () => resolve({ code: -1, signal: null }));
  }).then((e) => {
    output();
    if (poll) clearInterval(poll);
    return e;
  });
  const tail = () => output().slice(-4000);

  return {
    name,
    child,
    output,
    jsonLines() {
      const parsed: Record<string, unknown>[] = [];
      for (const line of output().split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          parsed.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // a line cut by the tail limit or not JSON after all
        }
      }
      return parsed;
    },
    exited,
    waitForLine(match, timeoutMs = 30_000) {
      const test = typeof match === 'function' ? match : (line: string) => match.test(line);
      const already = output().split('\n').find(test);
      if (already !== undefined) return Promise.resolve(already);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`${name}: no matching line within ${timeoutMs} ms; output:\n${tail()}`));
        }, timeoutMs);
        const waiter = (line: string) => {
          if (!test(line)) return false;
          clearTimeout(timer);
          resolve(line);
          return true;
        };
        waiters.add(waiter);
        void exited.then((e) => {
          if (!waiters.has(waiter)) return;
          waiters.delete(waiter);
          clearTimeout(timer);
          reject(new Error(`${name} exited (${e.code ?? e.signal}) first; output:\n${tail()}`));
        });
      });
    },
    async stop(signal = 'SIGTERM', killAfterMs = 20_000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
        const result = await exited;
        clearTimeout(timer);
        return result;
      }
      return exited;
    },
  };
}

/** A TCP port free right now on 127.0.0.1 (the OS picks it; a tiny race before use is accepted). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a value; the last error is reported on timeout. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const reason = last instanceof Error ? `: ${last.message}` : '';
      throw new Error(`timed out waiting for ${what}${reason}`);
    }
    await sleep(intervalMs);
  }
}

/** Waits until GET `url` answers 2xx. */
export function waitForHttp(url: string, timeoutMs = 30_000): Promise<true> {
  return eventually(
    `GET ${url}`,
    async () => {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await res.body?.cancel();
      return res.ok ? true : undefined;
    },
    timeoutMs,
  );
}

/** Runs a program to completion; resolves with its exit code and output. */
export async function run(
  command: string,
  args: string[],
  opts: SpawnOptions & { timeoutMs?: number } = {},
): Promise<{ code: number | null; output: string }> {
  const p = spawnProcess(command, command, args, opts);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
  const { code } = await p.exited;
  clearTimeout(timer);
  return { code, output: p.output() };
}
