import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { type BotApiEmulator, createBotApiEmulator } from '../../src/dev/bot-api-emulator/index.js';
import { CLAIM_LEASE_MS } from '../../src/domain/broadcasts/broadcast-delivery.js';
import { controlApp } from '../helpers/app.js';
import { createTestDatabase, silentLogger, type TestDatabase } from '../helpers/db.js';
import { createUsers } from '../helpers/factories.js';
import { workerProcesses } from '../helpers/process.js';
import { deleteRedisKeys, has, TEST_REDIS_URL } from '../helpers/services.js';
import { waitFor } from '../helpers/wait.js';

const RECIPIENTS = 300;
const LET_THROUGH = 100;
const CONCURRENCY = 8;

/**
 * A Bot API proxy that can hold send requests instead of forwarding them. A held request whose
 * client goes away (the worker was killed) is dropped: Telegram never saw it, so it must be sent
 * again, exactly once. Everything else is forwarded to the emulator untouched.
 */
class HoldingProxy {
  readonly held = new Set<ServerResponse>();
  dropped = 0;
  private sends = 0;
  private passLimit = Number.POSITIVE_INFINITY;
  private server: Server | undefined;
  url = '';

  constructor(private readonly target: string) {}

  async listen(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Forward `n` more sends, then hold the rest. */
  holdAfter(n: number): void {
    this.passLimit = this.sends + n;
  }

  passAll(): void {
    this.passLimit = Number.POSITIVE_INFINITY;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const isSend = /\/(sendMessage|sendPhoto)$/i.test(req.url ?? '');
    if (isSend && this.sends >= this.passLimit) {
      this.held.add(res);
      res.on('close', () => {
        if (this.held.delete(res)) this.dropped += 1;
      });
      return;
    }
    if (isSend) this.sends += 1;
    const answer = await fetch(`${this.target}${req.url}`, {
      method: req.method ?? 'POST',
      headers: { 'content-type': req.headers['content-type'] ?? 'application/json' },
      ...(body.length ? { body } : {}),
    });
    res.writeHead(answer.status, { 'content-type': 'application/json' });
    res.end(Buffer.from(await answer.arrayBuffer()));
  }

  async close(): Promise<void> {
    for (const res of this.held) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

describe.skipIf(!has('redis') || !has('postgres'))(
  'broadcast survives SIGKILL of its worker (real processes)',
  () => {
    const prefix = `vitte-test-crash-${randomUUID().slice(0, 8)}`;
    let emulator: BotApiEmulator;
    let proxy: HoldingProxy;
    let testDb: TestDatabase;
    let control: App;
    let env: Record<string, string>;
    const workers = workerProcesses(() => env);

    beforeAll(async () => {
      emulator = await createBotApiEmulator({ logger: silentLogger });
      proxy = new HoldingProxy(emulator.url);
      await proxy.listen();
      testDb = await createTestDatabase('broadcast_crash');
      env = {
        DATABASE_URL: testDb.url!,
        REDIS_URL: TEST_REDIS_URL,
        REDIS_PREFIX: prefix,
        BOT_TOKEN: emulator.token,
        TELEGRAM_API_ROOT: proxy.url,
        API_PORT: '0',
        BROADCAST_RATE_PER_SEC: '100',
        WORKER_CONCURRENCY: String(CONCURRENCY),
        LOG_LEVEL: 'info',
      };
      // This process only creates and inspects the broadcast; the workers deliver it.
      control = await controlApp(env);
      await createUsers(control, RECIPIENTS);
    }, 60_000);

    afterAll(async () => {
      await workers.killAll();
      await control?.close();
      await proxy?.close();
      await emulator?.close();
      await testDb?.drop();
      await deleteRedisKeys(prefix);
    });

    it(
      'a new worker finishes it: every user exactly one message, nobody missed',
      async () => {
        const first = await workers.start();
        proxy.holdAfter(LET_THROUGH);
        const b = await control.broadcasts.create({
          text: 'crash <b>test</b>',
          audience: { kind: 'all' },
          createdBy: 'e2e',
        });
        await control.broadcasts.start(b.id);

        // Every slot of the worker is now waiting on a send that Telegram has not received.
        await waitFor('all worker slots held at the proxy', async () => proxy.held.size === CONCURRENCY, {
          timeoutMs: 60_000,
        });
        const atKill = await control.broadcasts.progress(b.id);
        expect(atKill).toMatchObject({ total: RECIPIENTS, sent: LET_THROUGH, sending: CONCURRENCY });

        await first.stop('SIGKILL');
        await waitFor('the held requests to be dropped', async () => proxy.held.size === 0, {
          timeoutMs: 10_000,
        });
        expect(proxy.dropped).toBe(CONCURRENCY);
        proxy.passAll();

        // BullMQ hands the dead worker's jobs back once their locks expire (its stalled check); the
        // new worker finds their rows still claimed and puts each job off until its claim runs out
        // (CLAIM_LEASE_MS after the claim), then sends.
        const second = await workers.start();
        await waitFor(
          'the broadcast to complete',
          async () => (await control.broadcasts.get(b.id)).status === 'completed',
          { timeoutMs: CLAIM_LEASE_MS + 90_000 },
        );
        const putOff = second
          .output()
          .split('\n')
          .filter((l) => l.includes('"msg":"job deferred"') && l.includes('"job":"broadcast.deliver"'));
        expect(putOff.length).toBeGreaterThan(0);
        expect(putOff.length).toBeLessThanOrEqual(CONCURRENCY);

        const delivered = new Map<number, number>();
        for (const c of await emulator.client.calls({ method: 'sendMessage' })) {
          if (c.ok && c.chat_id !== undefined) delivered.set(c.chat_id, (delivered.get(c.chat_id) ?? 0) + 1);
        }
        const counts = [...delivered.values()];
        expect(delivered.size).toBe(RECIPIENTS);
        expect(counts.every((n) => n === 1)).toBe(true);
        expect(await control.broadcasts.progress(b.id)).toEqual({
          total: RECIPIENTS,
          pending: 0,
          sending: 0,
          sent: RECIPIENTS,
          blocked: 0,
          failed: 0,
          cancelled: 0,
        });
        // The rows that were in flight at the kill were claimed again by the new worker.
        const reclaimed = await control.db
          .selectFrom('broadcast_deliveries')
          .select('user_id')
          .where('broadcast_id', '=', b.id)
          .where('attempts', '=', 2)
          .execute();
        expect(reclaimed).toHaveLength(CONCURRENCY);
      },
      CLAIM_LEASE_MS + 180_000,
    );
  },
);
