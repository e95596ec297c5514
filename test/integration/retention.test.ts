import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type App, requireTelegram } from '../../src/app.js';
import { type BotApiEmulator, createBotApiEmulator } from '../../src/dev/bot-api-emulator/index.js';
import { DeliveryUnavailableError } from '../../src/domain/broadcasts/delivery-sender.js';
import type { Jobs } from '../../src/domain/jobs.js';
import { RetentionRepository } from '../../src/domain/retention/retention.repository.js';
import { RetentionService, type RetentionServiceDeps } from '../../src/domain/retention/retention.service.js';
import { isInWindow } from '../../src/domain/retention/retention-window.js';
import { telegramSender } from '../../src/integrations/telegram/telegram-sender.js';
import { Metrics } from '../../src/platform/metrics.js';
import type { JobQueue } from '../../src/platform/queue/index.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { silentLogger } from '../helpers/db.js';
import { createUser, createUsers, type UserSpec } from '../helpers/factories.js';
import { waitFor } from '../helpers/wait.js';

const DAY = 86_400_000;
const ALL_DAY = { start_hour: 0, end_hour: 24, time_zone: 'UTC' };

let emulator: BotApiEmulator;
let t: TestApp;
let app: App;

/** A user last seen `daysAway` days ago, with the given traits; their id. */
async function addUser(daysAway: number, spec: Omit<UserSpec, 'id' | 'lastActiveAt'> = {}): Promise<number> {
  return (await createUser(app, { ...spec, lastActiveAt: new Date(Date.now() - daysAway * DAY) })).id;
}

async function logStage(userId: number, stage: number, status: 'sent' | 'sending' = 'sent') {
  await app.db
    .insertInto('notification_log')
    .values({ user_id: userId, kind: 'retention', stage, status })
    .execute();
}

async function logRows(userId: number) {
  return app.db
    .selectFrom('notification_log')
    .select(['stage', 'status'])
    .where('user_id', '=', userId)
    .orderBy('stage')
    .execute();
}

/** A service over the test database whose queue records enqueues, at a chosen "now". */
function service(at?: Date, localeOf: RetentionServiceDeps['localeOf'] = () => 'en') {
  const enqueued: { userId: number; stage: number; key: string | undefined }[] = [];
  const queue = {
    async enqueue(_name: string, payload: { userId: number; stage: number }, opts?: { key?: string }) {
      enqueued.push({ ...payload, key: opts?.key });
      return { id: String(enqueued.length), deduplicated: false };
    },
  } as unknown as Pick<JobQueue<Jobs>, 'enqueue'>;
  const retention = new RetentionService({
    repo: new RetentionRepository(app.tx),
    localeOf,
    settings: app.settings,
    users: app.users,
    sender: telegramSender(app.telegramDirect!),
    queue,
    logger: silentLogger,
    metrics: new Metrics({ defaultMetrics: false }),
    ...(at ? { clock: () => at } : {}),
  });
  return { retention, enqueued };
}

beforeAll(async () => {
  emulator = await createBotApiEmulator();
  t = await createTestApp(
    { BOT_TOKEN: emulator.token, TELEGRAM_API_ROOT: emulator.url },
    { label: 'retention' },
  );
  app = t.app;
});

afterAll(async () => {
  await t?.close();
  await emulator?.close();
});

beforeEach(async () => {
  await app.db.deleteFrom('users').execute();
  await app.settings.set('retention.window', ALL_DAY);
  await app.settings.reset('retention.stages');
  await emulator.client.reset();
});

describe('the sending window', () => {
  it('is [start_hour, end_hour) in its time zone', () => {
    const moscow = { start_hour: 10, end_hour: 21, time_zone: 'Europe/Moscow' };
    expect(isInWindow(moscow, new Date('2024-06-01T06:59:00Z'))).toBe(false);
    expect(isInWindow(moscow, new Date('2024-06-01T07:00:00Z'))).toBe(true);
    expect(isInWindow(moscow, new Date('2024-06-01T17:59:59Z'))).toBe(true);
    expect(isInWindow(moscow, new Date('2024-06-01T18:00:00Z'))).toBe(false);
    expect(isInWindow(ALL_DAY, new Date('2024-06-01T23:59:59Z'))).toBe(true);
  });
});

describe('retention.scan', () => {
  it('queues the highest stage each user reached, once, never for banned, blocked or opted-out users', async () => {
    await addUser(0.5);
    const d2 = await addUser(2);
    const d4 = await addUser(4);
    const d10 = await addUser(10);
    const got7 = await addUser(10);
    await logStage(got7, 7);
    const got1and3 = await addUser(10);
    await logStage(got1and3, 1);
    await logStage(got1and3, 3);
    const got3 = await addUser(4);
    await logStage(got3, 3);
    await addUser(10, { banned: true });
    await addUser(10, { blocked: true });
    await addUser(10, { notifications: false });

    const { retention, enqueued } = service();
    expect(await retention.scan()).toEqual({ due: 4, enqueued: 4 });
    expect(enqueued).toEqual([
      { userId: d2, stage: 1, key: `retention-${d2}-1` },
      { userId: d4, stage: 3, key: `retention-${d4}-3` },
      { userId: d10, stage: 7, key: `retention-${d10}-7` },
      { userId: got1and3, stage: 7, key: `retention-${got1and3}-7` },
    ]);
  });

  it('follows the configured stages and pages through every user', async () => {
    await app.settings.set('retention.stages', [{ days: 2, text: { en: 'two days', ru: 'два дня' } }]);
    await createUsers(app, 1_205, { lastActiveAt: new Date(Date.now() - 3 * DAY) });
    const { retention, enqueued } = service();
    expect(await retention.scan()).toEqual({ due: 1_205, enqueued: 1_205 });
    expect(new Set(enqueued.map((e) => e.userId)).size).toBe(1_205);
    expect(enqueued.every((e) => e.stage === 2)).toBe(true);
  });

  it('does nothing outside the sending window', async () => {
    await addUser(10);
    await app.settings.set('retention.window', { start_hour: 10, end_hour: 21, time_zone: 'UTC' });
    const { retention, enqueued } = service(new Date('2024-06-01T03:00:00Z'));
    expect(await retention.scan()).toEqual({ skipped: 'outside the sending window' });
    expect(enqueued).toEqual([]);
  });
});

describe('retention.send', () => {
  it("sends the stage's text in the user's language, at most once", async () => {
    const ru = await addUser(4, { languageCode: 'ru' });
    const en = await addUser(4, { language: 'en', languageCode: 'ru' });
    const opts = { isLastAttempt: false };
    expect(await app.retention.send(ru, 3, opts)).toEqual({ kind: 'sent' });
    expect(await app.retention.send(en, 3, opts)).toEqual({ kind: 'sent' });
    expect(await app.retention.send(ru, 3, opts)).toEqual({ kind: 'skipped', detail: 'already sent' });
    expect((await emulator.client.botMessages(ru)).map((m) => m.text)).toEqual([
      'Есть вопрос? Спроси меня о чём угодно — с радостью помогу.',
    ]);
    expect((await emulator.client.botMessages(en)).map((m) => m.text)).toEqual([
      'Got a question? Ask me anything — I will be glad to help.',
    ]);
    expect(await logRows(ru)).toEqual([{ stage: 3, status: 'sent' }]);
  });

  it('reads the language from the injected localeOf, falling back to English for an empty text', async () => {
    await app.settings.set('retention.stages', [
      { days: 1, text: { en: 'one day', ru: 'один день' } },
      { days: 2, text: { en: 'two days', ru: '' } },
    ]);
    const seen: unknown[] = [];
    const { retention } = service(undefined, () => 'ru');
    const u = await addUser(3, { language: 'en', languageCode: 'en' });
    const spy = service(undefined, (user) => {
      seen.push({ language: user.language, language_code: user.language_code });
      return 'ru';
    }).retention;
    expect(await spy.send(u, 1, { isLastAttempt: false })).toEqual({ kind: 'sent' });
    expect(await retention.send(u, 2, { isLastAttempt: false })).toEqual({ kind: 'sent' });
    expect((await emulator.client.botMessages(u)).map((m) => m.text)).toEqual(['один день', 'two days']);
    expect(seen).toEqual([{ language: 'en', language_code: 'en' }]);
  });

  it('sends valid Telegram HTML formatted and anything else as plain text', async () => {
    await app.settings.set('retention.stages', [
      { days: 1, text: { en: 'Come <b>back</b>', ru: '' } },
      { days: 2, text: { en: 'a < b', ru: '' } },
    ]);
    const u = await addUser(3, { languageCode: 'ru' });
    await app.retention.send(u, 1, { isLastAttempt: false });
    await app.retention.send(u, 2, { isLastAttempt: false });
    const [first, second] = await emulator.client.botMessages(u);
    expect(first).toMatchObject({ text: 'Come back', entities: [{ type: 'bold', offset: 5, length: 4 }] });
    expect(second?.text).toBe('a < b');
  });

  it('re-checks the user: banned, blocked, opted out or active again get nothing', async () => {
    const back = await addUser(0.1);
    const off = await addUser(4, { notifications: false });
    const banned = await addUser(4, { banned: true });
    for (const u of [back, off, banned]) {
      expect(await app.retention.send(u, 3, { isLastAttempt: false })).toMatchObject({ kind: 'skipped' });
    }
    expect(await app.retention.send(back, 4, { isLastAttempt: false })).toEqual({
      kind: 'skipped',
      detail: 'stage no longer configured',
    });
    expect(await emulator.client.calls({ method: 'sendMessage' })).toEqual([]);
  });

  it('outside the window sends nothing and keeps the stage for later', async () => {
    const u = await addUser(4);
    await app.settings.set('retention.window', { start_hour: 10, end_hour: 21, time_zone: 'UTC' });
    const { retention } = service(new Date('2024-06-01T22:30:00Z'));
    expect(await retention.send(u, 3, { isLastAttempt: false })).toEqual({
      kind: 'skipped',
      detail: 'outside the sending window',
    });
    expect(await logRows(u)).toEqual([]);
  });

  it('a 403 marks the user blocked; a 429 gives the stage back and asks for a pause', async () => {
    const blocked = await addUser(4);
    await emulator.client.blockUser(blocked);
    expect(await app.retention.send(blocked, 3, { isLastAttempt: false })).toMatchObject({ kind: 'blocked' });
    expect(await logRows(blocked)).toEqual([{ stage: 3, status: 'blocked' }]);
    expect((await app.users.get(blocked)).bot_blocked_at).toBeInstanceOf(Date);

    const limited = await addUser(4);
    await emulator.client.injectFault({ method: 'sendMessage', errorCode: 429, retryAfter: 3 });
    expect(await app.retention.send(limited, 3, { isLastAttempt: false })).toEqual({
      kind: 'rate_limited',
      retryAfterMs: 3_000,
    });
    expect(await logRows(limited)).toEqual([]);
    expect(await app.retention.send(limited, 3, { isLastAttempt: false })).toEqual({ kind: 'sent' });
  });

  it('a 5xx is retried and only the last attempt uses the stage up as failed', async () => {
    const u = await addUser(4);
    await emulator.client.injectFault({ method: 'sendMessage', errorCode: 500, count: 2 });
    await expect(app.retention.send(u, 3, { isLastAttempt: false })).rejects.toBeInstanceOf(
      DeliveryUnavailableError,
    );
    expect(await logRows(u)).toEqual([]);
    expect(await app.retention.send(u, 3, { isLastAttempt: true })).toMatchObject({ kind: 'failed' });
    expect(await logRows(u)).toEqual([{ stage: 3, status: 'failed' }]);
  });
});

describe('the retention jobs in a worker', () => {
  it('scan and send run on the queue and respect the opt-out', async () => {
    const on = await addUser(2);
    const off = await addUser(2);
    await app.users.setNotifications(off, false);
    const { jobHandlers } = await import('../../src/worker/index.js');
    app.queue.handle(jobHandlers(requireTelegram(app, 'worker')));
    await app.queue.start({ queues: ['delivery', 'maintenance'] });
    expect(await app.queue.enqueueAndWait('retention.scan', {}, { timeoutMs: 10_000 })).toEqual({
      due: 1,
      enqueued: 1,
    });
    await emulator.client.waitForBotMessage(on);
    // Telegram has the message a moment before the job records it as sent.
    await waitFor('the reminder recorded', async () => (await logRows(on))[0]?.status === 'sent');
    expect(await logRows(on)).toEqual([{ stage: 1, status: 'sent' }]);
    expect(await emulator.client.botMessages(off)).toEqual([]);
  });
});

describe('layering', () => {
  it('keeps grammY and the bot layer out of the retention and broadcast domains (DESIGN.md)', () => {
    const offenders: string[] = [];
    for (const dir of ['src/domain/retention', 'src/domain/broadcasts']) {
      for (const file of readdirSync(dir)) {
        const text = readFileSync(join(dir, file), 'utf8');
        for (const m of text.matchAll(/from '([^']+)'/g)) {
          if (/^(grammy|@grammyjs\/)|\/bot\//.test(m[1]!)) offenders.push(`${file}: ${m[1]}`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });
});
