import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliError } from '../../src/cli/cli-error.js';
import { lockDataDir } from '../../src/cli/data-dir-lock.js';

/** Embedded PGlite allows one process per data directory: the lock file keeps a second one out. */
describe('data directory lock', () => {
  let other: ChildProcess;
  const dirs: string[] = [];
  const dir = () => {
    const d = mkdtempSync(join(tmpdir(), 'vitte-lock-'));
    dirs.push(d);
    return d;
  };
  const lockFile = (d: string) => join(d, 'vitte.lock');

  beforeAll(async () => {
    // Another live process, standing in for a running Vitte.
    other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    await new Promise((r) => other.once('spawn', r));
  });
  afterAll(() => {
    other.kill();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('writes the pid, and release removes the file', () => {
    const d = dir();
    const release = lockDataDir(d, 'all');
    expect(JSON.parse(readFileSync(lockFile(d), 'utf8'))).toMatchObject({ pid: process.pid, command: 'all' });
    release();
    expect(existsSync(lockFile(d))).toBe(false);
  });

  it('refuses while another live process holds it, naming that process', () => {
    const d = dir();
    writeFileSync(
      lockFile(d),
      JSON.stringify({ pid: other.pid, command: 'all', since: '2030-01-01T00:00:00Z' }),
    );
    let error: unknown;
    try {
      lockDataDir(d, 'migrate up');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(CliError);
    expect((error as Error).message).toContain(
      `in use by another Vitte process (pid ${other.pid}, "vitte all"`,
    );
    expect((error as Error).message).toContain('DATA_DIR');
    expect(JSON.parse(readFileSync(lockFile(d), 'utf8')).pid).toBe(other.pid);
  });

  it('takes over a lock whose process is gone, or whose pid now belongs to another program', async () => {
    const gone = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    await new Promise((r) => gone.once('exit', r));
    const d = dir();
    writeFileSync(lockFile(d), JSON.stringify({ pid: gone.pid, command: 'all', since: 'then' }));
    lockDataDir(d, 'all')();

    // The pid is alive but started at another time than the one that wrote the lock (Linux /proc).
    if (existsSync(`/proc/${other.pid}/stat`)) {
      writeFileSync(
        lockFile(d),
        JSON.stringify({ pid: other.pid, command: 'all', since: 'then', start: '1' }),
      );
      const release = lockDataDir(d, 'all');
      expect(JSON.parse(readFileSync(lockFile(d), 'utf8')).pid).toBe(process.pid);
      release();
    }
  });
});
