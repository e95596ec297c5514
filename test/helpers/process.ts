import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A program running as a real child process, its output kept for assertions. */
export interface RunningProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** stdout and stderr as they arrived. */
  output(): string;
  stdout(): string;
  stderr(): string;
  /** Output lines that parse as JSON objects (pino logs, nginx's JSON access log). */
  jsonLines(): Record<string, unknown>[];
  /** Resolves with the first line (printed already or yet to come) that matches; rejects on timeout or exit. */
  waitForLine(match: RegExp | ((line: string) => boolean), timeoutMs?: number): Promise<string>;
  /** The same for the first JSON log line that matches, parsed. */
  waitForLog(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  readonly exited: Promise<Exit>;
  /** Sends the signal (once) and waits for the exit; SIGKILL after `killAfterMs`. */
  stop(signal?: NodeJS.Signals, killAfterMs?: number): Promise<Exit>;
}

export interface SpawnOptions {
  cwd?: string;
  /** The whole environment of the child (nothing is inherited but PATH and HOME). */
  env?: Record<string, string>;
  /** Written to the child's stdin, which is then closed; without it stdin is /dev/null. */
  stdin?: string;
  /** Bytes of output kept (the tail); default 4 MB. */
  keepBytes?: number;
  /**
   * Send stdout and stderr to this file instead of a pipe: Node's stdio "pipes" are sockets, and a
   * program that opens /dev/stdout (nginx's `access_log /dev/stdout`) cannot open a socket that way.
   */
  logFile?: string;
}

function parseJson(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined; // a line cut by the tail limit, or not JSON after all
  }
}

/** Starts `command` with a clean environment; the one way tests run programs. */
export function spawnProcess(
  name: string,
  command: string,
  args: string[],
  opts: SpawnOptions = {},
): RunningProcess {
  const fd = opts.logFile ? openSync(opts.logFile, 'a') : undefined;
  const stdin = opts.stdin === undefined ? 'ignore' : 'pipe';
  const child = spawn(command, args, {
    cwd: opts.cwd,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...opts.env },
    stdio: fd === undefined ? [stdin, 'pipe', 'pipe'] : [stdin, fd, fd],
  });
  if (fd !== undefined) closeSync(fd);
  child.stdin?.end(opts.stdin);
  const keep = opts.keepBytes ?? 4 * 1024 * 1024;
  const text = { out: '', stdout: '', stderr: '' };
  let partial = '';
  const waiters = new Set<(line: string) => boolean>();
  const onData = (d: Buffer, stream?: 'stdout' | 'stderr') => {
    const chunk = d.toString();
    text.out = (text.out + chunk).slice(-keep);
    if (stream) text[stream] = (text[stream] + chunk).slice(-keep);
    partial += chunk;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) for (const w of [...waiters]) if (w(line)) waiters.delete(w);
  };
  child.stdout?.on('data', (d: Buffer) => onData(d, 'stdout'));
  child.stderr?.on('data', (d: Buffer) => onData(d, 'stderr'));
  // With a log file there are no data events: read the file's new bytes instead.
  let read = 0;
  const readLog = () => {
    if (!opts.logFile) return;
    const bytes = readFileSync(opts.logFile);
    if (bytes.length > read) onData(bytes.subarray(read));
    read = bytes.length;
  };
  const poll = opts.logFile === undefined ? undefined : setInterval(readLog, 50);
  const output = () => {
    readLog();
    return text.out;
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

  const waitForLine = (match: RegExp | ((line: string) => boolean), timeoutMs = 30_000) => {
    const test = typeof match === 'function' ? match : (line: string) => match.test(line);
    const already = output().split('\n').find(test);
    if (already !== undefined) return Promise.resolve(already);
    return new Promise<string>((resolve, reject) => {
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
  };

  return {
    name,
    child,
    output,
    stdout: () => text.stdout,
    stderr: () => text.stderr,
    jsonLines: () =>
      output()
        .split('\n')
        .flatMap((line) => {
          const parsed = parseJson(line);
          return parsed ? [parsed] : [];
        }),
    exited,
    waitForLine,
    async waitForLog(match, timeoutMs) {
      const line = await waitForLine((l) => {
        const parsed = parseJson(l);
        return parsed !== undefined && match(parsed);
      }, timeoutMs);
      return parseJson(line) as Record<string, unknown>;
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

export interface Finished extends Exit {
  output: string;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion (SIGKILL after `timeoutMs`, default 2 min). */
export async function run(
  command: string,
  args: string[],
  opts: SpawnOptions & { timeoutMs?: number } = {},
): Promise<Finished> {
  const p = spawnProcess(command, command, args, opts);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
  const exit = await p.exited;
  clearTimeout(timer);
  return { ...exit, output: p.output(), stdout: p.stdout(), stderr: p.stderr() };
}

const VITTE = ['bin/vitte.js'];

/** Every role's port: tests run side by side, so unless a test names a port the system picks one. */
const FREE_PORTS = { API_PORT: '0', ADMIN_PORT: '0', BOT_PORT: '0', WORKER_PORT: '0' };

/** Starts `vitte <args>` from this checkout as a real process with a clean environment plus `env`. */
export function startVitte(
  args: string[],
  env: Record<string, string>,
  opts: SpawnOptions = {},
): RunningProcess {
  return spawnProcess(`vitte ${args.join(' ')}`, process.execPath, [...VITTE, ...args], {
    ...opts,
    env: { ...FREE_PORTS, ...env },
  });
}

/** Runs `vitte <args>` to completion. */
export function runVitte(
  args: string[],
  env: Record<string, string>,
  opts: SpawnOptions & { timeoutMs?: number } = {},
): Promise<Finished> {
  return run(process.execPath, [...VITTE, ...args], { ...opts, env: { ...FREE_PORTS, ...env } });
}

/** `vitte worker` as a real process, once it takes jobs. */
export async function startVitteWorker(env: Record<string, string>): Promise<RunningProcess> {
  const worker = startVitte(['worker'], env);
  await worker.waitForLog((l) => l.msg === 'worker started', 60_000);
  return worker;
}

/**
 * `vitte worker` processes of one test file, started with the file's environment (read when each
 * starts: it is set in beforeAll); `killAll` SIGKILLs whatever is still running, for afterAll.
 */
export function workerProcesses(env: () => Record<string, string>) {
  const started: RunningProcess[] = [];
  return {
    async start(): Promise<RunningProcess> {
      const worker = await startVitteWorker(env());
      started.push(worker);
      return worker;
    },
    async killAll(): Promise<void> {
      for (const worker of started) await worker.stop('SIGKILL');
    },
  };
}
