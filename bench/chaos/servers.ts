import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type RunningProcess, run, spawnProcess } from '../../test/helpers/process.js';
import { freePort } from '../../test/stack/stack-process.js';

/** A server of the run's own that the run can take down and bring back on the same port and data. */
export interface Restartable {
  readonly url: string;
  /** Down: a clean shutdown, as an operator's restart or a failover does it. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** PostgreSQL's server programs: on PATH, or in Debian's versioned directory. */
function pgBin(name: string): string | undefined {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const path = join(root, v, 'bin', name);
    if (existsSync(path)) return path;
  }
  return undefined;
}

export function chaosServersAvailable(): string[] {
  const missing: string[] = [];
  if (!pgBin('initdb') || !pgBin('postgres')) missing.push('PostgreSQL server programs (initdb, postgres)');
  for (const dir of (process.env.PATH ?? '').split(':'))
    if (existsSync(join(dir, 'redis-server'))) return missing;
  return [...missing, 'redis-server'];
}

/** The postgres user's uid (`-u`) or gid (`-g`). */
async function idOf(flag: '-u' | '-g'): Promise<string> {
  const res = await run('id', [flag, 'postgres']);
  if (res.code !== 0) throw new Error(`running as root needs a postgres user: ${res.output}`);
  return res.stdout.trim();
}

/**
 * PostgreSQL refuses to run as root: there (CI containers) its programs run as the `postgres` user,
 * through setpriv, which execs the program itself (signals reach the server, not a wrapper).
 */
function asPostgresUser(command: string, args: string[]): [string, string[]] {
  if (process.getuid?.() !== 0) return [command, args];
  return ['setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', '--', command, ...args]];
}

/**
 * A PostgreSQL cluster in `dir` (initdb, trust authentication on 127.0.0.1 only) on a port of its
 * own. Durability settings are off: the run takes the server down cleanly, it never crashes it.
 */
export async function startPostgres(dir: string): Promise<Restartable> {
  const initdb = pgBin('initdb');
  const postgres = pgBin('postgres');
  if (!initdb || !postgres) throw new Error('PostgreSQL server programs (initdb, postgres) not found');
  const port = await freePort();
  const home = join(dir, 'pg');
  mkdirSync(home, { mode: 0o700 });
  if (process.getuid?.() === 0) {
    chmodSync(dir, 0o711); // the postgres user passes through the run's directory to its own
    chownSync(home, Number(await idOf('-u')), Number(await idOf('-g')));
  }
  const data = join(home, 'data');
  const init = await run(
    ...asPostgresUser(initdb, ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']),
    { timeoutMs: 60_000 },
  );
  if (init.code !== 0) throw new Error(`initdb failed:\n${init.output}`);
  let proc: RunningProcess | undefined;
  const start = async () => {
    proc = spawnProcess(
      'postgres',
      ...asPostgresUser(postgres, [
        '-D',
        data,
        '-p',
        String(port),
        '-k',
        home,
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'fsync=off',
        '-c',
        'synchronous_commit=off',
        '-c',
        'full_page_writes=off',
        '-c',
        'max_connections=100',
      ]),
    );
    await proc.waitForLine(/database system is ready to accept connections/, 30_000);
  };
  await start();
  const stop = async () => {
    // SIGINT is PostgreSQL's fast shutdown: clients are disconnected, the cluster stays consistent.
    await proc?.stop('SIGINT', 30_000);
    proc = undefined;
  };
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, start, stop, close: stop };
}

/** redis-server with the deployment's own redis.conf (AOF on), on a port and directory of its own. */
export async function startRedis(dir: string, confPath: string): Promise<Restartable> {
  const port = await freePort();
  const data = join(dir, 'redis');
  mkdirSync(data, { recursive: true });
  let proc: RunningProcess | undefined;
  const start = async () => {
    proc = spawnProcess(
      'redis',
      'redis-server',
      [confPath, '--port', String(port), '--bind', '127.0.0.1', '--protected-mode', 'no', '--dir', data],
      { cwd: data },
    );
    await proc.waitForLine(/Ready to accept connections/, 30_000);
  };
  await start();
  const stop = async () => {
    await proc?.stop('SIGTERM', 30_000);
    proc = undefined;
  };
  return { url: `redis://127.0.0.1:${port}`, start, stop, close: stop };
}
