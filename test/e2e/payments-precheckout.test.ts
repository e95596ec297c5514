import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeLlm } from '../../src/dev/fake-llm/index.js';
import { botSays, orderInvoice, pay, paymentRows, tgUser } from '../helpers/payments.js';
import { has } from '../helpers/services.js';
import { startSystem, type TestSystem } from '../helpers/system.js';

/**
 * A pre_checkout_query must be answered within Telegram's 10 s whatever else is going on: the
 * user's chat busy (sequencing would queue the query behind it), an answer streaming to them, Redis
 * gone (its client queues commands while it is away). The emulator accepts an answer only within
 * its deadline, so a late answer fails these tests; how fast it is goes in `npm run bench`.
 */

describe.skipIf(!has('postgres'))('pre-checkout while the user’s chat is busy (polling)', () => {
  let s: TestSystem;
  beforeAll(async () => {
    s = await startSystem({ label: 'precheckout_busy' });
  });
  afterAll(async () => s?.close());

  it('is answered while an update of the same chat is stuck in its handler', async () => {
    const user = tgUser(44_001);
    const invoice = await orderInvoice(s, user, 'pack_20');
    // Another connection holds the user's row, so the language change below waits inside its
    // handler and keeps the chat's sequencing slot for as long as the lock is held.
    const blocker = new pg.Client({ connectionString: s.testDb.url });
    await blocker.connect();
    try {
      await blocker.query('begin');
      await blocker.query('select id from users where id = $1 for no key update', [user.id]);
      await s.tg.injectMessage({ user, text: '/language' });
      const menu = await s.tg.waitForBotMessage(user.id, (m) =>
        Boolean(m.text?.includes('Choose your language')),
      );
      await s.tg.injectCallbackQuery({ user, message_id: menu.message_id, data: 'lang:ru' });
      await s.tg.waitFor(async () => {
        const r = await blocker.query('select count(*)::int as n from pg_locks where not granted');
        return r.rows[0].n > 0 ? true : undefined;
      }, 'the language change to wait for the row');
      const paid = await pay(s, user, invoice);
      expect(paid.ok).toBe(true);
      await botSays(s, user.id, 'Thank you!');
      // The chat's own update is still waiting: the payment did not go through its queue.
      expect((await s.app.users.get(user.id)).language).toBeNull();
    } finally {
      await blocker.query('rollback');
      await blocker.end();
    }
    await botSays(s, user.id, 'по-русски');
    expect(await paymentRows(s, user.id)).toMatchObject([{ status: 'credited', product_code: 'pack_20' }]);
  });
});

for (const mode of ['polling', 'webhook'] as const) {
  describe(`pre-checkout while a chat reply streams (${mode})`, () => {
    let s: TestSystem;
    let llm: Awaited<ReturnType<typeof createFakeLlm>>;
    beforeAll(async () => {
      llm = await createFakeLlm();
      s = await startSystem({ mode, label: `precheckout_stream_${mode}`, env: { LLM_BASE_URL: llm.url } });
    });
    afterAll(async () => {
      await s?.close();
      await llm?.close();
    });

    it('is answered and credited while the answer is still being written', async () => {
      const user = tgUser(mode === 'polling' ? 44_101 : 44_201);
      const invoice = await orderInvoice(s, user, 'pro_7d');
      llm.enqueue({ text: 'A long and slow answer. '.repeat(20), chunkSize: 8, chunkDelayMs: 60 });
      await s.tg.injectMessage({ user, text: 'Tell me a long story' });
      await s.tg.waitFor(async () => ((await s.tg.drafts(user.id)).length > 0 ? true : undefined), 'a draft');
      const paid = await pay(s, user, invoice);
      expect(paid.ok).toBe(true);
      expect(llm.requests().at(-1)!.outcome).toBe('pending');
      await botSays(s, user.id, 'Thank you!');
      expect((await s.app.subscriptions.get(user.id)).plan).toBe('pro');
      await botSays(s, user.id, 'A long and slow answer.', 30_000);
    });
  });
}

/** A private redis-server on a free port that the test can stop and start again. */
async function privateRedis() {
  const port = await new Promise<number>((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
  const dir = mkdtempSync(join(tmpdir(), 'vitte-redis-'));
  let child: ChildProcess | undefined;
  const start = () =>
    new Promise<void>((resolve, reject) => {
      const c = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        {
          cwd: dir,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      child = c;
      c.on('error', reject);
      c.stdout?.on('data', (d: Buffer) => {
        if (d.toString().includes('Ready to accept connections')) resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!child || child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    start,
    stop,
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe.skipIf(!has('redis'))('pre-checkout while Redis is unreachable (polling)', () => {
  let s: TestSystem;
  let redis: Awaited<ReturnType<typeof privateRedis>>;
  beforeAll(async () => {
    redis = await privateRedis();
    s = await startSystem({ label: 'precheckout_redis', redis: true, env: { REDIS_URL: redis.url } });
  });
  afterAll(async () => {
    // Back up first, so the queue and the cache close cleanly.
    await redis?.start().catch(() => undefined);
    await s?.close();
    await redis?.close();
  });

  it('is answered, and the payment credited and confirmed, with Redis down', async () => {
    const user = tgUser(44_301);
    const invoice = await orderInvoice(s, user, 'pro_30d');
    await redis.stop();
    await s.tg.waitFor(
      async () => (s.app.redis!.status === 'ready' ? undefined : true),
      'the client to notice',
    );
    const paid = await pay(s, user, invoice);
    expect(paid).toMatchObject({ ok: true });
    const [answer] = await s.tg.preCheckoutAnswers(user.id);
    expect(answer).toMatchObject({ ok: true, accepted: true });
    await botSays(s, user.id, 'Thank you!');
    expect(await paymentRows(s, user.id)).toMatchObject([{ status: 'credited', amount: 649 }]);
    expect((await s.app.subscriptions.get(user.id)).plan).toBe('pro');
  });
});
