import { createConnection, createServer, type Socket } from 'node:net';

/**
 * Counting proxies for the wire protocols of PostgreSQL and Redis. A process under test connects
 * through one (its own: counts are per process) and the proxy counts what the client sends, without
 * changing a byte. Client-side counting is the only exact per-process measure here: the shared
 * PostgreSQL has no pg_stat_statements loaded (and restarting it is not ours to do), pg_stat_database
 * counts transactions of every client of the database, and Redis' commandstats mixes the processes
 * and counts the commands run inside Lua scripts too.
 */

export interface PgCounts {
  /** Statements executed: simple queries plus extended-protocol Executes (BEGIN/COMMIT included). */
  statements: number;
  /** Explicit transactions (BEGIN / START TRANSACTION). */
  transactions: number;
  /** Statement text (whitespace collapsed, cut at 140 characters) → executions. */
  byStatement: Record<string, number>;
}

export interface RedisCounts {
  /** Commands sent (each command of a pipeline or MULTI counts; a script counts once). */
  commands: number;
  /**
   * Round trips: client sends separated by an answer from the server on the same connection. Exact
   * for one update at a time; under concurrency, commands of different updates that share a
   * connection merge into one trip, so read it from sequential runs only.
   */
  roundTrips: number;
  byCommand: Record<string, number>;
}

export interface WireCounter<T> {
  /** The target URL with host and port swapped for the proxy's. */
  readonly url: string;
  /** Counts since start; subtract two snapshots for a phase. */
  snapshot(): T;
  close(): Promise<void>;
}

function bump(map: Map<string, number>, key: string) {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** `after - before`, per key, dropping zeroes. */
export function diffCounts(
  after: Record<string, number>,
  before: Record<string, number>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d) out[k] = d;
  }
  return out;
}

async function listenProxy(
  target: URL,
  onConnection: (client: Socket, upstream: Socket) => void,
): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = createConnection({ host: target.hostname, port: Number(target.port) });
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    }
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    upstream.pipe(client);
    onConnection(client, upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const url = new URL(target);
  url.port = String((server.address() as { port: number }).port);
  return {
    url: url.toString(),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

/** Messages are buffered only while one straddles two reads. */
function framer(parse: (buf: Buffer) => number) {
  let pending: Buffer | undefined;
  return (chunk: Buffer) => {
    const buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    const used = parse(buf);
    pending = used < buf.length ? buf.subarray(used) : undefined;
  };
}

const statementKey = (sql: string) => sql.replace(/\s+/g, ' ').trim().slice(0, 140);
const PG_PROTOCOL_3 = 196_608;

export async function startPgCounter(targetUrl: string): Promise<WireCounter<PgCounts>> {
  const byStatement = new Map<string, number>();
  let statements = 0;
  let transactions = 0;
  const count = (sql: string | undefined) => {
    statements += 1;
    const key = statementKey(sql ?? '(unknown prepared statement)');
    if (/^(begin|start transaction)\b/i.test(key)) transactions += 1;
    bump(byStatement, key);
  };
  const { url, close } = await listenProxy(new URL(targetUrl), (client, upstream) => {
    let started = false;
    const prepared = new Map<string, string>(); // statement name ('' = unnamed) → text
    const portals = new Map<string, string>(); // portal name → text
    const cstring = (buf: Buffer, from: number): [string, number] => {
      const end = buf.indexOf(0, from);
      return [buf.toString('utf8', from, end), end + 1];
    };
    const parse = framer((buf) => {
      let off = 0;
      for (;;) {
        if (!started) {
          // Untyped start-up packets: SSLRequest / GSSENCRequest (answered 'N'), then StartupMessage.
          if (buf.length - off < 8) return off;
          const len = buf.readInt32BE(off);
          if (buf.length - off < len) return off;
          if (buf.readInt32BE(off + 4) === PG_PROTOCOL_3) started = true;
          off += len;
          continue;
        }
        if (buf.length - off < 5) return off;
        const type = String.fromCharCode(buf[off]!);
        const end = off + 1 + buf.readInt32BE(off + 1);
        if (buf.length < end) return off;
        const body = off + 5;
        if (type === 'Q') count(cstring(buf, body)[0]);
        else if (type === 'P') {
          const [name, next] = cstring(buf, body);
          prepared.set(name, cstring(buf, next)[0]);
        } else if (type === 'B') {
          const [portal, next] = cstring(buf, body);
          portals.set(portal, prepared.get(cstring(buf, next)[0]) ?? '');
        } else if (type === 'E') count(portals.get(cstring(buf, body)[0]));
        off = end;
      }
    });
    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk);
      parse(chunk);
    });
  });
  return {
    url,
    snapshot: () => ({ statements, transactions, byStatement: Object.fromEntries(byStatement) }),
    close,
  };
}

export async function startRedisCounter(targetUrl: string): Promise<WireCounter<RedisCounts>> {
  const byCommand = new Map<string, number>();
  let commands = 0;
  let roundTrips = 0;
  const { url, close } = await listenProxy(new URL(targetUrl), (client, upstream) => {
    let answeredSinceSend = true;
    const line = (buf: Buffer, from: number): [string, number] | undefined => {
      const end = buf.indexOf('\r\n', from);
      return end < 0 ? undefined : [buf.toString('latin1', from, end), end + 2];
    };
    // RESP requests: *<n>\r\n then n × $<len>\r\n<bytes>\r\n (inline commands: one text line).
    const parse = framer((buf) => {
      let off = 0;
      while (off < buf.length) {
        const head = line(buf, off);
        if (!head) return off;
        let [text, next] = head;
        let name: string;
        if (text.startsWith('*')) {
          const n = Number(text.slice(1));
          name = '';
          for (let i = 0; i < n; i++) {
            const bulk = line(buf, next);
            if (!bulk) return off;
            const len = Number(bulk[0].slice(1));
            if (buf.length < bulk[1] + len + 2) return off;
            if (i === 0) name = buf.toString('latin1', bulk[1], bulk[1] + len).toLowerCase();
            next = bulk[1] + len + 2;
          }
        } else {
          name = text.split(' ')[0]!.toLowerCase();
        }
        commands += 1;
        bump(byCommand, name);
        off = next;
      }
      return off;
    });
    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk);
      if (answeredSinceSend) roundTrips += 1;
      answeredSinceSend = false;
      parse(chunk);
    });
    upstream.on('data', () => {
      answeredSinceSend = true;
    });
  });
  return {
    url,
    snapshot: () => ({ commands, roundTrips, byCommand: Object.fromEntries(byCommand) }),
    close,
  };
}
