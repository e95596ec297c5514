import { connect, type SecureVersion } from 'node:tls';
import pg from 'pg';
import { expect } from 'vitest';
import type { Stack } from './stack.js';

/** Assertions and probes of the stack test that are not about one test alone. */

const SECURITY_HEADERS = {
  'strict-transport-security': 'max-age=63072000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'strict-origin-when-cross-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
};

export function expectSecurityHeaders(res: Response, what: string): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
    // Exactly the value, once: a copy from the app as well would read "a, b".
    expect(res.headers.get(name), `${name} on ${what}`).toBe(value);
  }
  expect(res.headers.get('server'), `server on ${what}`).toBe('nginx');
  expect(res.headers.get('x-powered-by'), `x-powered-by on ${what}`).toBeNull();
  expect(res.headers.get('x-request-id'), `x-request-id on ${what}`).toMatch(/^[A-Za-z0-9._-]{8,128}$/);
}

/** Bursts allowed by nginx.conf for a location, read from the rendered file itself. */
export function burstOf(conf: string, location: string): number {
  const block = conf.split(`location ${location} {`)[1]?.split('}')[0] ?? '';
  const m = /limit_req zone=\w+ burst=(\d+)/.exec(block);
  if (!m) throw new Error(`no limit_req in location ${location}`);
  return Number(m[1]);
}

export function tlsHandshake(
  port: number,
  servername: string,
  options: { minVersion?: SecureVersion; maxVersion?: SecureVersion; ciphers?: string } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername, ...options }, () => {
      const protocol = socket.getProtocol() ?? 'none';
      socket.end();
      resolve(protocol);
    });
    socket.on('error', reject);
  });
}

/** Access-log lines of nginx (JSON, one per request). */
export function accessLog(s: Stack): { uri: string; status: number; upstream: string }[] {
  return s.nginx.jsonLines().filter((l) => typeof l.uri === 'string') as unknown as {
    uri: string;
    status: number;
    upstream: string;
  }[];
}

/** Row count of every table in the public schema. */
export async function tableCounts(url: string): Promise<Record<string, number>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const tables = await c.query<{ name: string }>(
      "select table_name as name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by 1",
    );
    const out: Record<string, number> = {};
    for (const { name } of tables.rows) {
      const r = await c.query<{ n: string }>(`select count(*) as n from "${name}"`);
      out[name] = Number(r.rows[0]!.n);
    }
    return out;
  } finally {
    await c.end();
  }
}
