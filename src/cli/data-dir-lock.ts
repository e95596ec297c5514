import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CliError } from './cli-error.js';

const LOCK_FILE = 'vitte.lock';

interface LockInfo {
  pid: number;
  command: string;
  since: string;
  /** The process's start time in clock ticks since boot (Linux), which tells a reused pid apart. */
  start?: string | undefined;
}

function startTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime), counted after the command name in parentheses (which may hold spaces).
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function readLock(path: string): LockInfo | undefined {
  try {
    const info = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockInfo>;
    return typeof info.pid === 'number' ? (info as LockInfo) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether the process that wrote the lock still runs. A pid can be reused after a restart (in a
 * container this very process may have the old pid): where /proc tells start times (Linux), a
 * process started at another time does not hold the lock.
 */
function holderAlive(holder: LockInfo): boolean {
  if (holder.pid === process.pid) return false;
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const start = startTicks(holder.pid);
  return !holder.start || !start || start === holder.start;
}

/**
 * Embedded PGlite allows one process per data directory; a second one would corrupt it. Takes
 * `DATA_DIR/vitte.lock` (the pid and command), or fails naming the process that holds it. A lock
 * left by a process that no longer runs is taken over. Returns the release function.
 */
export function lockDataDir(dir: string, command: string): () => void {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  const mine: LockInfo = {
    pid: process.pid,
    command,
    since: new Date().toISOString(),
    start: startTicks(process.pid),
  };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, `${JSON.stringify(mine)}\n`, { flag: 'wx' });
      return () => {
        if (readLock(path)?.pid === process.pid) unlinkSync(path);
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = readLock(path);
    if (holder && holderAlive(holder)) {
      throw new CliError(
        `the data directory ${resolve(dir)} is in use by another Vitte process (pid ${holder.pid}, ` +
          `"vitte ${holder.command}" since ${holder.since}): embedded PGlite allows one process — stop it first, or set DATA_DIR`,
      );
    }
    // Stale: its process is gone. Whoever removes it first and creates it again wins.
    try {
      unlinkSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  throw new CliError(`could not lock the data directory ${resolve(dir)}: another process keeps taking it`);
}
