import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request body a fake server refuses (too large, not JSON); the fakes answer it with 400. */
export class BadRequestBody extends Error {
  override name = 'BadRequestBody';
}

/**
 * The request's JSON body, undefined when it is empty. A body past `limitBytes` destroys the
 * request: the fakes run in tests, and a runaway client should fail there, not fill memory.
 */
export function readJsonBody(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) req.destroy(new BadRequestBody('request body too large'));
      else chunks.push(chunk);
    });
    req.on('error', reject);
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (text === '') return resolve(undefined);
      try {
        resolve(JSON.parse(text));
      } catch (err) {
        reject(new BadRequestBody('We could not parse the JSON body of your request.', { cause: err }));
      }
    });
  });
}

/** Starts `server` (port 0: any free port) and returns its origin, an IPv6 host in brackets. */
export async function listenHttp(server: Server, host: string, port: number): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;
  return `http://${host.includes(':') ? `[${host}]` : host}:${bound}`;
}
