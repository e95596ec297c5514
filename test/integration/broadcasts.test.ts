import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { App } from '../../src/app.js';
import { type BotApiEmulator, createBotApiEmulator } from '../../src/dev/bot-api-emulator/index.js';
import { CLAIM_LEASE_MS } from '../../src/domain/broadcasts/broadcast-delivery.js';
import { broadcastsJobs } from '../../src/domain/broadcasts/broadcasts.jobs.js';
import { BroadcastsRepository } from '../../src/domain/broadcasts/broadcasts.repository.js';
import {
  BroadcastsService,
  type BroadcastsServiceDeps,
  type CreateBroadcastInput,
} from '../../src/domain/broadcasts/broadcasts.service.js';
import { parseAudience } from '../../src/domain/broadcasts/broadcasts.validation.js';
import { DeliveryUnavailableError } from '../../src/domain/broadcasts/delivery-sender.js';
import type { Jobs } from '../../src/domain/jobs.js';
import type { Db } from '../../src/platform/db/database.js';
import { ConflictError, NotFoundError, ValidationError } from '../../src/platform/errors.js';
import { Metrics } from '../../src/platform/metrics.js';
import type { JobContext, JobQueue } from '../../src/platform/queue/index.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { silentLogger } from '../helpers/db.js';
import { createRunningBroadcast, createUsers, type UserSpec } from '../helpers/factories.js';
import { has } from '../helpers/services.js';

let emulator: BotApiEmulator;
let t: TestApp;
let app: App;

/** Users with the given traits (see createUser); their ids. */
const addUsers = (n: number, spec: Omit<UserSpec, 'id'> = {}) => createUsers(app, n, spec);

const draft = (over: Partial<CreateBroadcastInput> = {}): CreateBroadcastInput => ({
  text: '<b>Hello</b> everyone',
  audience: { kind: 'all' },
  createdBy: 'test',
  ...over,
});

async function deliveryRow(broadcastId: number, userId: number) {
  return app.db
    .selectFrom('broadcast_deliveries')
    .selectAll()
    .where('broadcast_id', '=', broadcastId)
    .where('user_id', '=', userId)
    .executeTakeFirstOrThrow();
}

/** A running broadcast with its recipients chosen, to the given audience. */
async function running(over: Partial<CreateBroadcastInput> = {}) {
  return (await createRunningBroadcast(app, over)).broadcast;
}

function issuesOf(err: unknown): { path: string; message: string }[] {
  expect(err).toBeInstanceOf(ValidationError);
  return [...(err as ValidationError).issues];
}

beforeAll(async () => {
  emulator = await createBotApiEmulator();
  t = await createTestApp(
    { BOT_TOKEN: emulator.token, TELEGRAM_API_ROOT: emulator.url },
    { label: 'broadcasts' },
  );
  app = t.app;
});

afterAll(async () => {
  await t?.close();
  await emulator?.close();
});

beforeEach(async () => {
  // Each test counts its own recipients: earlier users leave every audience.
  await app.db.updateTable('users').set({ banned_at: sql`now()` }).where('banned_at', 'is', null).execute();
  await app.db
    .updateTable('broadcasts')
    .set({ status: 'cancelled' })
    .where('status', 'in', ['scheduled', 'running', 'paused'])
    .execute();
  await emulator.client.reset();
});

describe('BroadcastsService.create', () => {
  it('lists every problem: HTML, caption length, half a button, URL scheme, audience', async () => {
    const err = await app.broadcasts
      .create({
        text: `<b>open ${'x'.repeat(1100)}`,
        photo: 'https://example.com/a.jpg',
        buttonText: 'Go',
        buttonUrl: 'javascript:alert(1)',
        audience: { kind: 'plan', plan: 'Not A Plan' },
        createdBy: 'test',
      })
      .catch((e: unknown) => e);
    const paths = issuesOf(err).map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['text', 'buttonUrl', 'audience.plan']));
  });

  it('refuses tags Telegram does not allow, an empty text and a button without a URL', async () => {
    const tag = issuesOf(
      await app.broadcasts.create(draft({ text: '<div>hi</div>' })).catch((e: unknown) => e),
    );
    expect(tag).toEqual([{ path: 'text', message: expect.stringContaining('Unsupported start tag "div"') }]);
    const empty = issuesOf(await app.broadcasts.create(draft({ text: '   ' })).catch((e: unknown) => e));
    expect(empty[0]?.path).toBe('text');
    const half = issuesOf(
      await app.broadcasts.create(draft({ buttonText: 'Open' })).catch((e: unknown) => e),
    );
    expect(half).toEqual([{ path: 'buttonUrl', message: 'a button needs both a text and a URL' }]);
  });

  it('allows 4096 characters of text but only 1024 as a photo caption', async () => {
    const long = 'a'.repeat(4096);
    await expect(app.broadcasts.create(draft({ text: long }))).resolves.toMatchObject({ status: 'draft' });
    const err = await app.broadcasts
      .create(draft({ text: long, photo: 'AgACAgIAAxkBAAIB' }))
      .catch((e: unknown) => e);
    expect(issuesOf(err)).toEqual([{ path: 'text', message: expect.stringContaining('1024') }]);
    const tooLong = await app.broadcasts.create(draft({ text: `${long}a` })).catch((e: unknown) => e);
    expect(issuesOf(tooLong)[0]?.message).toContain('4096');
  });

  it('saves a draft, or a scheduled broadcast; refuses a time in the past', async () => {
    const b = await app.broadcasts.create(
      draft({ photo: 'https://example.com/p.png', buttonText: 'Open', buttonUrl: 'https://example.com' }),
    );
    expect(b).toMatchObject({
      status: 'draft',
      photo: 'https://example.com/p.png',
      button_text: 'Open',
      button_url: 'https://example.com',
      audience: { kind: 'all' },
      created_by: 'test',
    });
    const at = new Date(Date.now() + 3_600_000);
    const s = await app.broadcasts.create(draft({ scheduledAt: at }));
    expect(s.status).toBe('scheduled');
    expect(s.scheduled_at?.getTime()).toBe(at.getTime());
    const past = await app.broadcasts
      .create(draft({ scheduledAt: new Date(Date.now() - 3_600_000) }))
      .catch((e: unknown) => e);
    expect(issuesOf(past)).toEqual([{ path: 'scheduledAt', message: 'must be in the future' }]);
  });

  it('lists newest first with a keyset cursor', async () => {
    const a = await app.broadcasts.create(draft());
    const b = await app.broadcasts.create(draft());
    const first = await app.broadcasts.list({ limit: 1 });
    expect(first.map((x) => x.id)).toEqual([b.id]);
    const next = await app.broadcasts.list({ limit: 1, beforeId: b.id });
    expect(next.map((x) => x.id)).toEqual([a.id]);
  });

  it('parses the CLI audience notation', () => {
    expect(parseAudience('all')).toEqual({ kind: 'all' });
    expect(parseAudience('active:7')).toEqual({ kind: 'active', days: 7 });
    expect(parseAudience('plan:premium')).toEqual({ kind: 'plan', plan: 'premium' });
    expect(parseAudience('language:RU')).toEqual({ kind: 'language', language: 'ru' });
    expect(() => parseAudience('active:x')).toThrow(ValidationError);
    expect(() => parseAudience('everyone')).toThrow(ValidationError);
  });
});

describe('audiences', () => {
  it('never include banned, bot-blocked or opted-out users', async () => {
    await addUsers(3);
    await addUsers(1, { banned: true });
    await addUsers(1, { blocked: true });
    await addUsers(1, { notifications: false });
    expect(await app.broadcasts.countAudience({ kind: 'all' })).toBe(3);
  });

  it('select by activity, plan and language', async () => {
    const day = 86_400_000;
    await addUsers(2, { lastActiveAt: new Date(Date.now() - 2 * day) });
    await addUsers(3, { lastActiveAt: new Date(Date.now() - 10 * day) });
    await addUsers(4, { plan: 'premium' });
    await addUsers(1, { language: 'ru' });
    await addUsers(1, { languageCode: 'ru-RU' });
    await addUsers(1, { language: 'en', languageCode: 'ru' });
    await addUsers(1, { languageCode: 'rus' });
    expect(await app.broadcasts.countAudience({ kind: 'active', days: 7 })).toBe(2 + 4 + 4);
    expect(await app.broadcasts.countAudience({ kind: 'active', days: 30 })).toBe(13);
    expect(await app.broadcasts.countAudience({ kind: 'plan', plan: 'premium' })).toBe(4);
    expect(await app.broadcasts.countAudience({ kind: 'language', language: 'ru' })).toBe(2);
  });
});

describe('state changes', () => {
  it('refuse illegal transitions with ConflictError and unknown ids with NotFoundError', async () => {
    const b = await app.broadcasts.create(draft());
    await expect(app.broadcasts.pause(b.id)).rejects.toBeInstanceOf(ConflictError);
    await expect(app.broadcasts.resume(b.id)).rejects.toBeInstanceOf(ConflictError);
    await app.broadcasts.start(b.id);
    await expect(app.broadcasts.start(b.id)).rejects.toThrow('cannot start a running broadcast');
    await app.broadcasts.runStart(b.id); // empty audience: completes at once
    expect((await app.broadcasts.get(b.id)).status).toBe('completed');
    await expect(app.broadcasts.cancel(b.id)).rejects.toBeInstanceOf(ConflictError);
    await expect(app.broadcasts.get(987_654)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('start chooses recipients once, however often the job runs', async () => {
    await addUsers(5);
    const b = await app.broadcasts.create(draft());
    await app.broadcasts.start(b.id);
    expect(await app.broadcasts.runStart(b.id)).toEqual({ total: 5, enqueued: 5 });
    await addUsers(1, { banned: true });
    expect(await app.broadcasts.runStart(b.id)).toEqual({ total: 5, enqueued: 0 });
    expect(await app.broadcasts.progress(b.id)).toEqual({
      total: 5,
      pending: 5,
      sending: 0,
      sent: 0,
      blocked: 0,
      failed: 0,
      cancelled: 0,
    });
    expect((await app.broadcasts.get(b.id)).total_recipients).toBe(5);
  });

  it('pause keeps deliveries pending; resume re-queues them; cancel closes them', async () => {
    const {
      broadcast: b,
      recipients: [u1, u2, u3],
    } = await createRunningBroadcast(app, { recipients: 3 });
    await app.broadcasts.pause(b.id);
    expect(await app.broadcasts.deliver(b.id, u1!, { isLastAttempt: false })).toEqual({
      kind: 'skipped',
      detail: 'broadcast paused',
    });
    expect((await deliveryRow(b.id, u1!)).status).toBe('pending');
    expect(await emulator.client.calls({ method: 'sendMessage' })).toHaveLength(0);

    await app.broadcasts.resume(b.id);
    expect(await app.broadcasts.deliver(b.id, u1!, { isLastAttempt: false })).toEqual({ kind: 'sent' });
    const { after: cancelled } = await app.broadcasts.cancel(b.id);
    expect(cancelled.status).toBe('cancelled');
    expect(cancelled.finished_at).toBeInstanceOf(Date);
    expect(await app.broadcasts.deliver(b.id, u2!, { isLastAttempt: false })).toMatchObject({
      kind: 'skipped',
    });
    expect(await app.broadcasts.progress(b.id)).toMatchObject({
      total: 3,
      sent: 1,
      cancelled: 2,
      pending: 0,
    });
    expect((await deliveryRow(b.id, u3!)).error).toBe('broadcast cancelled');
  });
});

describe('broadcast.deliver', () => {
  it('sends HTML with the button, records the message id, never twice, and completes the broadcast', async () => {
    const [u1, u2] = await addUsers(2);
    const b = await running({ buttonText: 'Open', buttonUrl: 'https://example.com/x' });
    expect(await app.broadcasts.deliver(b.id, u1!, { isLastAttempt: false })).toEqual({ kind: 'sent' });
    expect(await app.broadcasts.deliver(b.id, u1!, { isLastAttempt: false })).toEqual({
      kind: 'skipped',
      detail: 'already sent',
    });
    const [msg] = await emulator.client.botMessages(u1!);
    expect(msg?.text).toBe('Hello everyone');
    expect(msg?.entities).toEqual([{ type: 'bold', offset: 0, length: 5 }]);
    expect(msg?.reply_markup).toEqual({
      inline_keyboard: [[{ text: 'Open', url: 'https://example.com/x' }]],
    });
    const row = await deliveryRow(b.id, u1!);
    expect(row).toMatchObject({ status: 'sent', attempts: 1, telegram_message_id: msg?.message_id });
    expect(row.sent_at).toBeInstanceOf(Date);

    expect((await app.broadcasts.get(b.id)).status).toBe('running');
    await app.broadcasts.deliver(b.id, u2!, { isLastAttempt: false });
    const done = await app.broadcasts.get(b.id);
    expect(done.status).toBe('completed');
    expect(done.finished_at).toBeInstanceOf(Date);
  });

  it('sends a photo with the text as its caption; later sends reuse its file_id', async () => {
    const [u, v] = await addUsers(2);
    const b = await running({ photo: 'https://example.com/p.jpg', text: 'Look <i>here</i>' });
    await app.broadcasts.deliver(b.id, u!, { isLastAttempt: false });
    await app.broadcasts.deliver(b.id, v!, { isLastAttempt: false });
    const [msg] = await emulator.client.botMessages(u!);
    expect(msg?.caption).toBe('Look here');
    expect(msg?.caption_entities).toEqual([{ type: 'italic', offset: 5, length: 4 }]);
    const fileId = msg?.photo?.at(-1)?.file_id;
    expect(fileId).toBeTruthy();
    const sent = await emulator.client.calls({ method: 'sendPhoto' });
    expect(sent.map((c) => c.params.photo)).toEqual(['https://example.com/p.jpg', fileId]);
    expect((await emulator.client.botMessages(v!))[0]?.caption).toBe('Look here');
  });

  it('a 403 counts as blocked and marks the user; a 400 fails the delivery', async () => {
    const [blocked, gone] = await addUsers(2);
    await emulator.client.blockUser(blocked!);
    await emulator.client.injectFault({
      method: 'sendMessage',
      chatId: gone!,
      errorCode: 400,
      description: 'Bad Request: chat not found',
    });
    const b = await running();
    expect(await app.broadcasts.deliver(b.id, blocked!, { isLastAttempt: false })).toEqual({
      kind: 'blocked',
    });
    expect((await app.users.get(blocked!)).bot_blocked_at).toBeInstanceOf(Date);
    expect(await app.broadcasts.deliver(b.id, gone!, { isLastAttempt: false })).toEqual({
      kind: 'failed',
      detail: 'Bad Request: chat not found',
    });
    expect(await deliveryRow(b.id, gone!)).toMatchObject({
      status: 'failed',
      error: 'Bad Request: chat not found',
    });
    expect(await app.broadcasts.progress(b.id)).toMatchObject({ blocked: 1, failed: 1 });
    expect((await app.broadcasts.get(b.id)).status).toBe('completed');
  });

  it('a 429 asks for the pause Telegram wants and hands the row back for the retry (or a pause)', async () => {
    const [u] = await addUsers(1);
    await emulator.client.injectFault({ method: 'sendMessage', errorCode: 429, retryAfter: 7 });
    const b = await running();
    expect(await app.broadcasts.deliver(b.id, u!, { isLastAttempt: false })).toEqual({
      kind: 'rate_limited',
      retryAfterMs: 7_000,
    });
    expect(await deliveryRow(b.id, u!)).toMatchObject({
      status: 'pending',
      claimed_by: null,
      claimed_until: null,
    });
    expect(await app.broadcasts.deliver(b.id, u!, { isLastAttempt: false })).toEqual({ kind: 'sent' });

    const [v] = await addUsers(1);
    await emulator.client.injectFault({ method: 'sendMessage', errorCode: 429, retryAfter: 7 });
    const paused = await running();
    await app.broadcasts.deliver(paused.id, v!, { isLastAttempt: false });
    await app.broadcasts.pause(paused.id);
    expect(await app.broadcasts.deliver(paused.id, v!, { isLastAttempt: false })).toMatchObject({
      kind: 'skipped',
    });
    expect(await deliveryRow(paused.id, v!)).toMatchObject({ status: 'pending', attempts: 1 });
  });

  it('a 5xx is retried (the row goes back to pending) and fails only on the last attempt', async () => {
    const [u] = await addUsers(1);
    await emulator.client.injectFault({ method: 'sendMessage', errorCode: 502, count: 2 });
    const b = await running();
    await expect(app.broadcasts.deliver(b.id, u!, { isLastAttempt: false })).rejects.toBeInstanceOf(
      DeliveryUnavailableError,
    );
    expect((await deliveryRow(b.id, u!)).status).toBe('pending');
    expect(await app.broadcasts.deliver(b.id, u!, { isLastAttempt: true })).toMatchObject({ kind: 'failed' });
    expect(await deliveryRow(b.id, u!)).toMatchObject({ status: 'failed', attempts: 2 });
  });

  it('skips users who were banned or opted out after the start, and users another send found blocked', async () => {
    const [banned, optedOut, blocked] = await addUsers(3);
    const b = await running();
    await app.users.ban(banned!, 'spam');
    await app.users.setNotifications(optedOut!, false);
    await app.users.markBotBlocked(blocked!);
    for (const u of [banned!, optedOut!, blocked!])
      await app.broadcasts.deliver(b.id, u, { isLastAttempt: false });
    expect(await emulator.client.calls({ method: 'sendMessage' })).toHaveLength(0);
    expect(await app.broadcasts.progress(b.id)).toMatchObject({ cancelled: 2, blocked: 1, pending: 0 });
  });
});

/** A service whose queue only records what it was asked to enqueue (jobs never run). */
function recordingService(ratePerSec = 25, kind: 'inline' | 'bullmq' = 'bullmq') {
  const enqueued: { name: string; payload: unknown; key: string | undefined }[] = [];
  const seen = new Set<string>();
  const queue = {
    kind,
    async enqueue(name: string, payload: unknown, opts?: { key?: string }) {
      const id = `${name}:${opts?.key ?? enqueued.length}`;
      const deduplicated = seen.has(id);
      seen.add(id);
      if (!deduplicated) enqueued.push({ name, payload, key: opts?.key });
      return { id, deduplicated };
    },
  } as unknown as Pick<JobQueue<Jobs>, 'enqueue' | 'kind'>;
  const service = new BroadcastsService({
    tx: app.tx,
    repo: new BroadcastsRepository(app.tx),
    users: app.users,
    sender: undefined,
    queue,
    ratePerSec,
    logger: silentLogger,
    metrics: new Metrics({ defaultMetrics: false }),
  });
  const delivered = (broadcastId: number) =>
    enqueued
      .filter(
        (e) =>
          e.name === 'broadcast.deliver' &&
          (e.payload as { broadcastId: number }).broadcastId === broadcastId,
      )
      .map((e) => (e.payload as { userId: number }).userId);
  return { service, enqueued, delivered };
}

describe('broadcast.start and broadcast.tick', () => {
  it('tick starts scheduled broadcasts whose time came', async () => {
    const { service, enqueued } = recordingService();
    const b = await service.create(draft({ scheduledAt: new Date(Date.now() + 3_600_000) }));
    expect(await service.tick()).toMatchObject({ started: 0 });
    await app.db
      .updateTable('broadcasts')
      .set({ scheduled_at: new Date(Date.now() - 1_000) })
      .where('id', '=', b.id)
      .execute();
    expect(await service.tick()).toMatchObject({ started: 1 });
    const started = await service.get(b.id);
    expect(started.status).toBe('running');
    expect(started.started_at).toBeInstanceOf(Date);
    expect(enqueued).toContainEqual({
      name: 'broadcast.start',
      payload: { broadcastId: b.id },
      key: `start-${b.id}`,
    });
  });

  it('queues only a window of deliveries; the tick slides it as deliveries end', async () => {
    const users = await addUsers(130);
    const { service, delivered } = recordingService(0.5); // window: the minimum of 100
    const b = await service.create(draft());
    await service.start(b.id);
    expect(await service.runStart(b.id)).toEqual({ total: 130, enqueued: 100 });
    expect(delivered(b.id)).toEqual(users.slice(0, 100));
    await app.db
      .updateTable('broadcast_deliveries')
      .set({ status: 'sent' })
      .where('broadcast_id', '=', b.id)
      .where('user_id', 'in', users.slice(0, 40))
      .execute();
    expect(await service.tick()).toMatchObject({ enqueued: 30 });
    expect(delivered(b.id)).toEqual(users);
  });

  it('tick re-queues deliveries whose worker died; a restart of the in-process queue re-queues at once', async () => {
    const {
      broadcast: b,
      recipients: [u1, u2],
    } = await createRunningBroadcast(app, { recipients: 2 });
    // A claim whose lease ran out long ago, and one still held (as by a send in flight).
    const claim = (u: number, until: string) =>
      app.db
        .updateTable('broadcast_deliveries')
        .set({
          status: 'sending',
          claimed_by: randomUUID(),
          claimed_until: sql`now() + ${sql.raw(`interval '${until}'`)}`,
        })
        .where('broadcast_id', '=', b.id)
        .where('user_id', '=', u)
        .execute();
    await claim(u1!, '-10 minutes');
    await claim(u2!, '80 seconds');

    const durable = recordingService();
    await durable.service.tick();
    // u2 may still be in flight: only the stale claim is sent again.
    expect(durable.delivered(b.id)).toEqual([u1]);
    await durable.service.onWorkerStart();
    expect(durable.delivered(b.id)).toEqual([u1]);

    const inline = recordingService(25, 'inline');
    await inline.service.onWorkerStart();
    expect(inline.delivered(b.id).sort()).toEqual([u1, u2]);
    expect(await app.broadcasts.deliver(b.id, u2!, { isLastAttempt: false })).toEqual({ kind: 'sent' });
    expect(await app.broadcasts.deliver(b.id, u1!, { isLastAttempt: false })).toEqual({ kind: 'sent' });
    expect((await app.broadcasts.get(b.id)).status).toBe('completed');
  });

  it('tick re-runs a start that never chose recipients, and completes broadcasts whose deliveries all ended', async () => {
    const [u] = await addUsers(1);
    // Started, but its start job was lost (say, Redis lost its data) before choosing recipients.
    const lost = await recordingService().service.create(draft());
    await app.db.updateTable('broadcasts').set({ status: 'running' }).where('id', '=', lost.id).execute();
    const { service, enqueued } = recordingService();
    await service.tick();
    expect(enqueued).toContainEqual({
      name: 'broadcast.start',
      payload: { broadcastId: lost.id },
      key: `start-${lost.id}`,
    });

    const b = await running();
    await app.db
      .updateTable('broadcast_deliveries')
      .set({ status: 'sent' })
      .where('broadcast_id', '=', b.id)
      .where('user_id', '=', u!)
      .execute();
    await service.tick();
    expect((await app.broadcasts.get(b.id)).status).toBe('completed');
  });
});

/** A sender whose sends wait while held, as a request in flight during a frozen event loop. */
function heldSender() {
  const sent: number[] = [];
  let gate = Promise.resolve();
  return {
    sent,
    /** Sends from now on wait; returns what lets them through. */
    hold(): () => void {
      let release = () => {};
      gate = new Promise<void>((r) => {
        release = r;
      });
      return release;
    },
    sender: {
      async send(chatId: number) {
        await gate;
        sent.push(chatId);
        return { kind: 'sent' as const, messageId: 1_000 + sent.length };
      },
    },
  };
}

function serviceWith(
  sender: BroadcastsServiceDeps['sender'],
  metrics = new Metrics({ defaultMetrics: false }),
) {
  return new BroadcastsService({
    tx: app.tx,
    repo: new BroadcastsRepository(app.tx),
    users: app.users,
    sender,
    queue: app.queue,
    ratePerSec: 25,
    logger: silentLogger,
    metrics,
  });
}

/** Let a claim's lease run out now, as if CLAIM_LEASE_MS had passed. */
async function expireLease(broadcastId: number, userId: number) {
  await app.db
    .updateTable('broadcast_deliveries')
    .set({ claimed_until: sql`now() - interval '1 second'` })
    .where('broadcast_id', '=', broadcastId)
    .where('user_id', '=', userId)
    .execute();
}

describe('delivery claims (a token and a lease)', () => {
  it('refuse a second claimer while the lease holds and let it in once the lease ran out', async () => {
    const {
      broadcast: b,
      recipients: [u],
    } = await createRunningBroadcast(app, { recipients: 1 });
    const repo = new BroadcastsRepository(app.tx);
    const [first, second] = [randomUUID(), randomUUID()];
    expect(await repo.claim(b.id, u!, first, CLAIM_LEASE_MS)).toMatchObject({ attempts: 1 });
    const held = await deliveryRow(b.id, u!);
    expect(held).toMatchObject({ status: 'sending', claimed_by: first });
    const leaseMs = held.claimed_until!.getTime() - held.updated_at.getTime();
    expect(Math.abs(leaseMs - CLAIM_LEASE_MS)).toBeLessThan(1_000);

    expect(await repo.claim(b.id, u!, second, CLAIM_LEASE_MS)).toBeUndefined();
    expect(await deliveryRow(b.id, u!)).toMatchObject({ claimed_by: first, attempts: 1 });
    // Neither a cancel's sweep nor the tick touch a held row.
    expect(await repo.unheldSendingUserIds(b.id, 10)).toEqual([]);

    await expireLease(b.id, u!);
    expect(await repo.unheldSendingUserIds(b.id, 10)).toEqual([u]);
    expect(await repo.claim(b.id, u!, second, CLAIM_LEASE_MS)).toMatchObject({ attempts: 2 });
    expect(await deliveryRow(b.id, u!)).toMatchObject({ claimed_by: second });
    // The first attempt can no longer record anything or hand the row back.
    expect(await repo.finish(b.id, u!, first, 'sent', { messageId: 1 })).toBe(false);
    await repo.release(b.id, u!, first);
    expect(await deliveryRow(b.id, u!)).toMatchObject({ status: 'sending', claimed_by: second });
    expect(await repo.finish(b.id, u!, second, 'sent', { messageId: 2 })).toBe(true);
    expect(await deliveryRow(b.id, u!)).toMatchObject({ status: 'sent', telegram_message_id: 2 });
  });

  it('a delivery whose first attempt froze mid-send is put off, not sent twice', async () => {
    const {
      broadcast: b,
      recipients: [u],
    } = await createRunningBroadcast(app, { recipients: 1 });
    const tg = heldSender();
    const service = serviceWith(tg.sender);
    const thaw = tg.hold();
    const frozen = service.deliver(b.id, u!, { isLastAttempt: false });
    await vi.waitFor(async () => expect((await deliveryRow(b.id, u!)).status).toBe('sending'));

    // BullMQ hands the job to another worker: it must wait for the claim, through ctx.defer.
    const deferred: { ms: number; reason: string }[] = [];
    const ctx = {
      attempt: 1,
      maxAttempts: 5,
      signal: new AbortController().signal,
      rateLimited: () => {
        throw new Error('not expected');
      },
      defer: (ms: number, reason: string) => {
        deferred.push({ ms, reason });
        throw new Error('deferred');
      },
    } as unknown as JobContext;
    await expect(
      broadcastsJobs(service)['broadcast.deliver']({ broadcastId: b.id, userId: u! }, ctx),
    ).rejects.toThrow('deferred');
    expect(deferred).toHaveLength(1);
    expect(deferred[0]!.reason).toBe('held by another attempt');
    expect(deferred[0]!.ms).toBeGreaterThan(CLAIM_LEASE_MS - 5_000);
    expect(deferred[0]!.ms).toBeLessThanOrEqual(CLAIM_LEASE_MS + 1_000);

    // The frozen attempt wakes up and records its send; the put-off attempt then finds it done.
    thaw();
    expect(await frozen).toEqual({ kind: 'sent' });
    expect(await service.deliver(b.id, u!, { isLastAttempt: false })).toEqual({
      kind: 'skipped',
      detail: 'already sent',
    });
    expect(tg.sent).toEqual([u]);
    expect(await deliveryRow(b.id, u!)).toMatchObject({
      status: 'sent',
      attempts: 1,
      telegram_message_id: 1_001,
    });
  });

  it('an attempt frozen past its lease does not overwrite the result of the one that took over', async () => {
    const {
      broadcast: b,
      recipients: [u],
    } = await createRunningBroadcast(app, { recipients: 1 });
    const tg = heldSender();
    const metrics = new Metrics({ defaultMetrics: false });
    const service = serviceWith(tg.sender, metrics);
    const thawFrozen = tg.hold();
    const frozen = service.deliver(b.id, u!, { isLastAttempt: false });
    await vi.waitFor(async () => expect((await deliveryRow(b.id, u!)).status).toBe('sending'));
    await expireLease(b.id, u!);
    const thawTakeover = tg.hold();
    const takeover = service.deliver(b.id, u!, { isLastAttempt: false });
    await vi.waitFor(async () => expect((await deliveryRow(b.id, u!)).attempts).toBe(2));
    thawTakeover();
    expect(await takeover).toEqual({ kind: 'sent' });
    thawFrozen();
    expect(await frozen).toEqual({ kind: 'skipped', detail: 'claim lost before recording sent' });
    // Telegram got it twice (a freeze longer than the lease); the row keeps the second send.
    expect(await deliveryRow(b.id, u!)).toMatchObject({
      status: 'sent',
      attempts: 2,
      telegram_message_id: 1_001,
    });
    expect(await metrics.text()).toMatch(/vitte_broadcast_deliveries_total\{result="claim_lost"\} 1/);
  });

  it('a row held by a dead attempt of a cancelled broadcast is closed once its lease ends, not left open', async () => {
    const {
      broadcast: b,
      recipients: [u],
    } = await createRunningBroadcast(app, { recipients: 1 });
    const repo = new BroadcastsRepository(app.tx);
    await repo.claim(b.id, u!, randomUUID(), CLAIM_LEASE_MS); // the worker dies holding it
    await app.broadcasts.cancel(b.id);
    const service = serviceWith(heldSender().sender);
    // BullMQ hands the job over long before the lease ends: it comes back then.
    const early = await service.deliver(b.id, u!, { isLastAttempt: false });
    expect(early).toMatchObject({ kind: 'busy', detail: 'held by another attempt' });
    expect((await deliveryRow(b.id, u!)).status).toBe('sending');
    await expireLease(b.id, u!);
    expect(await service.deliver(b.id, u!, { isLastAttempt: false })).toEqual({
      kind: 'skipped',
      detail: 'broadcast cancelled',
    });
    expect(await deliveryRow(b.id, u!)).toMatchObject({ status: 'cancelled' });
  });

  it('a restart of the in-process queue cancels the held rows of cancelled broadcasts', async () => {
    const {
      broadcast: b,
      recipients: [u],
    } = await createRunningBroadcast(app, { recipients: 1 });
    await new BroadcastsRepository(app.tx).claim(b.id, u!, randomUUID(), CLAIM_LEASE_MS);
    await app.broadcasts.cancel(b.id);
    const inline = recordingService(25, 'inline');
    await inline.service.onWorkerStart();
    expect(await deliveryRow(b.id, u!)).toMatchObject({ status: 'cancelled', claimed_by: null });
    expect(inline.delivered(b.id)).toEqual([]);
  });

  it('a restart of the in-process queue voids every claim, held ones included', async () => {
    const {
      broadcast: b,
      recipients: [u],
    } = await createRunningBroadcast(app, { recipients: 1 });
    await new BroadcastsRepository(app.tx).claim(b.id, u!, randomUUID(), CLAIM_LEASE_MS);
    const inline = recordingService(25, 'inline');
    await inline.service.onWorkerStart();
    expect(await deliveryRow(b.id, u!)).toMatchObject({
      status: 'pending',
      claimed_by: null,
      claimed_until: null,
    });
    expect(inline.delivered(b.id)).toEqual([u]);
  });
});

describe("side writes in a change's transaction (where an admin action writes its audit row)", () => {
  const statusOf = async (db: Db, id: number) =>
    (await db.selectFrom('broadcasts').select('status').where('id', '=', id).executeTakeFirstOrThrow())
      .status;

  it.skipIf(!has('postgres'))(
    "join the change's transaction: neither is visible outside before both commit",
    async () => {
      const b = await app.broadcasts.create(draft());
      const seen: unknown[] = [];
      const at = new Date(Date.now() + 3_600_000);
      // Another session, to see what is committed.
      const other = new pg.Client({ connectionString: t.testDb.url });
      await other.connect();
      try {
        const outside = async () =>
          (await other.query<{ status: string }>('select status from broadcasts where id = $1', [b.id]))
            .rows[0]?.status;
        await app.tx.run(async () => {
          const { before, after } = await app.broadcasts.schedule(b.id, at);
          seen.push({
            before: before.status,
            after: after.status,
            inside: await statusOf(app.tx.db, b.id),
            outside: await outside(),
          });
        });
        expect(seen).toEqual([
          { before: 'draft', after: 'scheduled', inside: 'scheduled', outside: 'draft' },
        ]);
        expect(await outside()).toBe('scheduled');
      } finally {
        await other.end();
      }
    },
  );

  it('roll the change back when they throw, and queue nothing for it', async () => {
    const [u] = await addUsers(1);
    const failing = (change: () => Promise<unknown>) =>
      app.tx.run(async () => {
        await change();
        throw new Error('audit log unavailable');
      });
    const { service, enqueued } = recordingService();
    await expect(failing(() => service.create(draft({ createdBy: 'hook-test' })))).rejects.toThrow(
      'audit log unavailable',
    );
    expect(
      await app.db.selectFrom('broadcasts').select('id').where('created_by', '=', 'hook-test').execute(),
    ).toEqual([]);

    const b = await service.create(draft());
    await expect(failing(() => service.start(b.id))).rejects.toThrow('audit log unavailable');
    expect(await statusOf(app.db, b.id)).toBe('draft');
    expect(enqueued).toEqual([]);

    const r = await running();
    for (const action of ['pause', 'cancel'] as const) {
      await expect(failing(() => service[action](r.id))).rejects.toThrow('audit log unavailable');
      expect(await statusOf(app.db, r.id)).toBe('running');
    }
    expect((await deliveryRow(r.id, u!)).status).toBe('pending');
    await service.pause(r.id);
    await expect(failing(() => service.resume(r.id))).rejects.toThrow('audit log unavailable');
    expect(await statusOf(app.db, r.id)).toBe('paused');
    expect(enqueued).toEqual([]);
  });
});

describe('test sends and metrics', () => {
  it('testSend delivers to one chat and explains refusals', async () => {
    const res = await app.broadcasts.testSend({ text: '<i>preview</i>' }, 4242);
    expect(res.messageId).toBeGreaterThan(0);
    expect((await emulator.client.botMessages(4242))[0]?.text).toBe('preview');
    await emulator.client.blockUser(4243);
    await expect(app.broadcasts.testSend({ text: 'x' }, 4243)).rejects.toBeInstanceOf(ConflictError);
    await expect(app.broadcasts.testSend({ text: '<b>x' }, 4242)).rejects.toBeInstanceOf(ValidationError);
  });

  it('exports delivery counters and the running gauge', async () => {
    await addUsers(1);
    await running();
    const text = await app.metrics.text();
    expect(text).toMatch(/vitte_broadcast_deliveries_total\{result="sent"\} \d+/);
    expect(text).toMatch(/vitte_broadcasts_running [1-9]/);
  });
});
