import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { has, TEST_REDIS_URL } from '../helpers/services.js';
import { startSystem, type TestSystem } from '../helpers/system.js';

/**
 * Update ids are the bot's own: two bots (or two emulators, or an emulator restarted) on one Redis
 * and one key prefix handle the same update_id each, instead of one dropping the other's as a
 * duplicate (issue 14 item 5, issue 16 item 5).
 */
describe.skipIf(!has('redis'))('update claims of two bots on one Redis', () => {
  const systems: TestSystem[] = [];
  beforeAll(async () => {
    const shared = { REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: `claims-${Date.now()}` };
    for (const label of ['claims_a', 'claims_b'])
      systems.push(await startSystem({ mode: 'webhook', label, env: shared }));
  }, 60_000);
  afterAll(async () => {
    for (const s of systems) await s.close();
  });

  it('handles the same update_id once per bot', async () => {
    const user = { id: 9_601, first_name: 'Max', username: 'max', language_code: 'en' };
    const update = (s: TestSystem) =>
      s.tg.injectUpdate({
        update_id: 424_242,
        message: {
          message_id: 1,
          date: Math.floor(Date.now() / 1000),
          chat: { id: user.id, type: 'private', first_name: user.first_name },
          from: { ...user, is_bot: false },
          text: '/help',
          entities: [{ type: 'bot_command', offset: 0, length: 5 }],
        },
      });
    for (const s of systems) await update(s);
    for (const s of systems) await s.tg.waitForBotMessage(user.id);
    // And each bot still drops its own duplicate.
    const [a] = systems;
    await update(a!);
    await a!.tg.waitForDelivery();
    expect(await a!.tg.botMessages(user.id)).toHaveLength(1);
  });
});
