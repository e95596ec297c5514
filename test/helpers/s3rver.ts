import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

interface S3rverServer {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
const S3rver = createRequire(import.meta.url)('s3rver') as new (
  opts: Record<string, unknown>,
) => S3rverServer;

export interface RunningS3rver {
  /** e.g. `http://127.0.0.1:41234`; path-style, access key id `S3RVER` (the secret is not checked). */
  endpoint: string;
  close(): Promise<void>;
}

/** An S3-compatible server (s3rver) on a free port over a fresh directory, for tests over the wire. */
export async function startS3rver(): Promise<RunningS3rver> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'vitte-s3rver-'));
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: root });
  const { port } = await server.run();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    async close() {
      await server.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}
