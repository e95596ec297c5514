import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { has } from '../helpers/services.js';
import { startSystem, type TestSystem } from '../helpers/system.js';

/** Small, so a burst goes over it; every other test sends at most this many updates per user. */
const POINTS = 5;

const ann = (id: number, language_code = 'en') => ({
  id,
  first_name: `User${id}`,
  username: `u${id}`,
  language_code,
});

const firstLine = (m: { text?: string }) => m.text?.split('\n')[0];

/**
 * One sample of the app's `/metrics` (read over HTTP like Prometheus does); 0 when the series does not
 * exist yet. The labels must pick exactly one series.
 */
async function sample(s: TestSystem, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${s.url}/metrics`)).text();
  const values: number[] = [];
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m?.[1] !== name) continue;
    const have = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) values.push(Number(m[3]));
  }
  if (values.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${values.length} series`);
  return values[0] ?? 0;
}

/** Waits until the sample reached `expected`, then checks it did not go past it. */
async function expectSample(
  s: TestSystem,
  name: string,
  labels: Record<string, string>,
  expected: number,
): Promise<void> {
  await s.tg.waitFor(
    async () => ((await sample(s, name, labels)) >= expected ? true : undefined),
    `${name} ${JSON.stringify(labels)} to reach ${expected}`,
  );
  expect(await sample(s, name, labels)).toBe(expected);
}

const variants = [
  { mode: 'polling', redis: false },
  { mode: 'webhook', redis: false },
  { mode: 'polling', redis: true },
  { mode: 'webhook', redis: true },
] as const;

for (const { mode, redis } of variants) {
  const store = redis ? 'redis' : 'memory';
  describe.skipIf(redis && !has('redis'))(`bot middlewares (${mode}, ${store})`, () => {
    let s: TestSystem;
    beforeAll(async () => {
      s = await startSystem({
        mode,
        redis,
        label: `bot_mw_${mode}_${store}`,
        env: { BOT_RATE_LIMIT_POINTS: String(POINTS), BOT_RATE_LIMIT_WINDOW_S: '60' },
      });
    });
    afterAll(async () => s?.close());

    /** Keys of this system's Redis prefix that match `pattern` (after the prefix). */
    const redisKeys = (pattern: string) => s.app.redis!.keys(`${s.app.config.REDIS_PREFIX}:${pattern}`);

    it('rate limit: a burst gets the allowed replies and one warning; another user is unaffected', async () => {
      const flooder = ann(7001);
      const other = ann(7002, 'ru');
      const burst = POINTS + 4;
      const limited = await sample(s, 'vitte_bot_rate_limited_total');
      for (let i = 0; i < burst; i++) await s.tg.injectMessage({ user: flooder, text: '/help' });
      await s.tg.injectMessage({ user: other, text: '/help' });

      await expectSample(s, 'vitte_bot_rate_limited_total', {}, limited + burst - POINTS);
      await s.tg.waitForBotMessage(other.id);
      await s.tg.waitForDelivery();
      expect((await s.tg.botMessages(flooder.id)).map(firstLine)).toEqual([
        ...Array<string>(POINTS).fill('What I can do'),
        expect.stringMatching(/^You are sending messages too fast\. Please wait \d+ s and try again\.$/),
      ]);
      expect((await s.tg.botMessages(other.id)).map(firstLine)).toEqual(['Что я умею']);
      if (redis) expect(await redisKeys(`*${flooder.id}`)).toContainEqual(expect.stringContaining(':rl'));
    });

    it('handles a duplicate update_id once', async () => {
      const user = ann(7010);
      const duplicates = await sample(s, 'vitte_bot_duplicate_updates_total');
      const first = await s.tg.injectMessage({ user, text: '/help' });
      await s.tg.waitForBotMessage(user.id);
      await s.tg.injectUpdate({ ...first });
      await s.tg.injectMessage({ user, text: '/status' });
      await s.tg.waitForBotMessage(user.id, (m) => Boolean(m.text?.startsWith('Your plan')));
      expect((await s.tg.botMessages(user.id)).map(firstLine)).toEqual(['What I can do', 'Your plan: Free']);
      expect(await sample(s, 'vitte_bot_duplicate_updates_total')).toBe(duplicates + 1);
      // Seen ids live in Redis, so another process (api replica, restarted poller) drops them too.
      if (redis) expect(await redisKeys(`*update*${first.update_id}`)).toHaveLength(1);
    });

    it('error boundary: a failing handler apologizes in the user language, is counted, and the bot goes on', async () => {
      const users = [ann(7020, 'en'), ann(7021, 'ru')];
      const errors = await sample(s, 'vitte_bot_errors_total', { handler: 'help' });
      for (const user of users) {
        await s.tg.injectFault({
          method: 'sendMessage',
          chatId: user.id,
          errorCode: 400,
          description: 'Bad Request: injected failure',
        });
        await s.tg.injectMessage({ user, text: '/help' });
        await s.tg.injectMessage({ user, text: '/status' });
      }
      for (const user of users) {
        await s.tg.waitFor(
          async () => ((await s.tg.botMessages(user.id)).length === 2 ? true : undefined),
          `two replies to ${user.id}`,
        );
        const locale = user.language_code;
        expect((await s.tg.botMessages(user.id)).map(firstLine)).toEqual([
          s.app.i18n.t(locale, 'error-generic'),
          locale === 'ru' ? 'Твой тариф: Бесплатный' : 'Your plan: Free',
        ]);
        const failed = await s.tg.calls({ method: 'sendMessage', chatId: user.id });
        expect(failed[0]).toMatchObject({ ok: false, error_code: 400 });
      }
      await expectSample(s, 'vitte_bot_errors_total', { handler: 'help' }, errors + users.length);
    });

    it('error boundary: a button press that fails after it was answered still gets an apology', async () => {
      const user = ann(7022, 'ru');
      const errors = await sample(s, 'vitte_bot_errors_total', { handler: 'language' });
      await s.tg.injectMessage({ user, text: '/language' });
      const menu = await s.tg.waitForBotMessage(user.id, (m) => Boolean(m.reply_markup));
      // The handler answers the button first, then fails to edit the menu.
      await s.tg.injectFault({ method: 'editMessageText', chatId: user.id, errorCode: 400 });
      await s.tg.injectCallbackQuery({ user, message_id: menu.message_id, data: 'lang:ru' });
      await expectSample(s, 'vitte_bot_errors_total', { handler: 'language' }, errors + 1);
      const apology = s.app.i18n.t('ru', 'error-generic');
      await s.tg.waitFor(async () => {
        const alerts = (await s.tg.callbackAnswers()).filter((a) => a.chat_id === user.id);
        const messages = await s.tg.botMessages(user.id);
        return alerts.some((a) => a.text === apology) || messages.some((m) => m.text === apology)
          ? true
          : undefined;
      }, 'an apology as an alert or a message');
    });

    it('writes last activity at most once per window', async () => {
      const user = ann(7030);
      const row = () =>
        s.app.db
          .selectFrom('users')
          .select(['last_active_at', 'updated_at'])
          .where('id', '=', user.id)
          .executeTakeFirstOrThrow();
      const replies = (n: number) =>
        s.tg.waitFor(
          async () => ((await s.tg.botMessages(user.id)).length === n ? true : undefined),
          `${n} replies`,
        );

      await s.tg.injectMessage({ user, text: '/start' });
      await replies(1);
      const registered = await row();
      await s.tg.injectMessage({ user, text: '/help' });
      await replies(2);
      expect(await row()).toEqual(registered);

      // The window has passed: the stored activity is older than it (and the cached row goes too).
      await s.app.db
        .updateTable('users')
        .set({ last_active_at: sql<Date>`now() - interval '10 minutes'` })
        .where('id', '=', user.id)
        .execute();
      s.app.rows.users.invalidate([user.id]);
      const stale = (await row()).last_active_at;
      await s.tg.injectMessage({ user, text: '/help' });
      await replies(3);
      const touched = await row();
      expect(touched.last_active_at.getTime()).toBeGreaterThan(stale.getTime() + 9 * 60_000);

      await s.tg.injectMessage({ user, text: '/status' });
      await replies(4);
      expect(await row()).toEqual(touched);
    });

    it('metrics: updates by type, handler durations and the time of the last update', async () => {
      const user = ann(7040);
      const updates = (type: string) => sample(s, 'vitte_bot_updates_total', { type });
      const handled = (handler: string) => sample(s, 'vitte_bot_handler_duration_seconds_count', { handler });
      const before = {
        messages: await updates('message'),
        callbacks: await updates('callback_query'),
        help: await handled('help'),
        language: await handled('language'),
      };

      await s.tg.injectMessage({ user, text: '/help' });
      await s.tg.injectMessage({ user, text: '/language' });
      const menu = await s.tg.waitForBotMessage(user.id, (m) => Boolean(m.reply_markup));
      const lastSent = Date.now() / 1000;
      await s.tg.injectCallbackQuery({ user, message_id: menu.message_id, data: 'lang:en' });
      await s.tg.waitFor(
        async () =>
          (await s.tg.callbackAnswers()).some((a) => a.message_id === menu.message_id) ? true : undefined,
        'the button press answered',
      );

      await expectSample(
        s,
        'vitte_bot_handler_duration_seconds_count',
        { handler: 'language' },
        before.language + 2,
      );
      await expectSample(s, 'vitte_bot_handler_duration_seconds_count', { handler: 'help' }, before.help + 1);
      expect(await updates('message')).toBe(before.messages + 2);
      expect(await updates('callback_query')).toBe(before.callbacks + 1);
      expect(await sample(s, 'vitte_bot_handler_duration_seconds_sum', { handler: 'help' })).toBeGreaterThan(
        0,
      );
      const last = await sample(s, 'vitte_bot_last_update_timestamp_seconds');
      expect(last).toBeGreaterThanOrEqual(lastSent);
      expect(last).toBeLessThanOrEqual(Date.now() / 1000);
    });
  });
}
