import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Balancer {
  readonly url: string;
  /** Requests each upstream took, and those no upstream could take (answered 502). */
  stats(): { byUpstream: Record<string, number>; refused: number };
  close(): Promise<void>;
}

/**
 * What nginx does in front of the api replicas (deploy/nginx/nginx.conf): round robin, and a
 * request whose connection could not be opened (a replica down or restarting) goes to the next
 * one. A request that reached a replica is never sent twice (a POST is not idempotent): if that
 * replica dies mid-request the answer is a 502, and the sender (Telegram) tries again later.
 */
export async function startBalancer(upstreams: string[]): Promise<Balancer> {
  const byUpstream: Record<string, number> = Object.fromEntries(upstreams.map((u) => [u, 0]));
  let refused = 0;
  let next = 0;

  const forward = (req: IncomingMessage, body: Buffer, res: ServerResponse, tried: number): void => {
    if (tried >= upstreams.length) {
      refused += 1;
      res.writeHead(502).end();
      return;
    }
    const target = new URL(req.url ?? '/', upstreams[(next++ + tried) % upstreams.length]);
    const out = request(target, { method: req.method, headers: req.headers }, (up) => {
      byUpstream[target.origin] = (byUpstream[target.origin] ?? 0) + 1;
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
      up.on('error', () => res.destroy());
    });
    out.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED' && !res.headersSent) forward(req, body, res, tried + 1);
      else if (!res.headersSent) {
        refused += 1;
        res.writeHead(502).end();
      } else res.destroy();
    });
    out.end(body);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => forward(req, Buffer.concat(chunks), res, 0));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stats: () => ({ byUpstream: { ...byUpstream }, refused }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
