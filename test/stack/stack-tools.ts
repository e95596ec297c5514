import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';

/**
 * The programs the stack test runs, all from Debian packages (`.ci/run` installs the missing ones):
 * nginx, prometheus (+ promtool), the two exporters, redis-server, the PostgreSQL client tools and
 * openssl. The package that brings each one is named so the skip message can say what to install.
 */
export const STACK_TOOLS = {
  nginx: 'nginx',
  prometheus: 'prometheus',
  promtool: 'prometheus',
  'prometheus-postgres-exporter': 'prometheus-postgres-exporter',
  'prometheus-redis-exporter': 'prometheus-redis-exporter',
  'redis-server': 'redis-server',
  pg_dump: 'postgresql-client',
  pg_restore: 'postgresql-client',
  openssl: 'openssl',
} as const;

export type StackTool = keyof typeof STACK_TOOLS;

// nginx lives in /usr/sbin, which is not on every user's PATH.
const EXTRA_DIRS = ['/usr/sbin', '/usr/local/sbin', '/sbin'];

/** Absolute path of a program on PATH (or in the sbin directories), undefined when absent. */
export function findTool(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...EXTRA_DIRS];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Every tool by name; throws for a missing one (the global setup has already said which). */
export function stackTools(): Record<StackTool, string> {
  const out = {} as Record<StackTool, string>;
  for (const name of Object.keys(STACK_TOOLS) as StackTool[]) {
    const path = findTool(name);
    if (!path) throw new Error(`${name} not found (Debian package ${STACK_TOOLS[name]})`);
    out[name] = path;
  }
  return out;
}

/** Set by the global setup: every tool and service is there and the build in dist/ is ready. */
export function stackReady(): boolean {
  return process.env.VITTE_STACK_READY === '1';
}

/** Where the global setup put the production build (package.json, bin/, dist/; no src/). */
export function builtAppDir(): string {
  const dir = process.env.VITTE_STACK_APP_DIR;
  if (!dir) throw new Error('VITTE_STACK_APP_DIR is not set: run through vitest.stack.config.ts');
  return dir;
}

/** The test TLS certificate and key (fullchain.pem, privkey.pem), trusted via NODE_EXTRA_CA_CERTS. */
export function tlsDir(): string {
  const dir = process.env.VITTE_STACK_TLS_DIR;
  if (!dir) throw new Error('VITTE_STACK_TLS_DIR is not set: run through vitest.stack.config.ts');
  return dir;
}
