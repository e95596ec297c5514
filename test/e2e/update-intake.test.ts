import { describe, expect, it } from 'vitest';
import { type FakeLlm, useChatSystem } from '../helpers/chat-system.js';
import { questionsOf } from '../helpers/factories.js';
import type { TestSystem } from '../helpers/system.js';

/**
 * What a webhook update carries is cleaned before anything stores it: PostgreSQL cannot hold a NUL
 * (a name with one made every update of its user fail), and nothing longer than Telegram allows
 * is kept (a forged 1,000,000-character text was stored whole).
 */
describe('update intake: NUL and Telegram limits', () => {
  let s: TestSystem;
  let llm: FakeLlm;
  useChatSystem(
    { mode: 'webhook', label: 'update_intake', env: { BOT_RATE_LIMIT_POINTS: '1000' } },
    (system) => ({ s, llm } = system),
  );

  it('serves a user whose name holds a NUL, and keeps the name without it', async () => {
    const user = { id: 71_001, first_name: 'Nul\u0000l', last_name: 'Pe\u0000r', language_code: 'en' };
    await s.tg.injectMessage({ user, text: '/start' });
    const welcome = await s.tg.waitForBotMessage(user.id);
    expect(welcome.text).not.toMatch(/went wrong/i);
    const row = await s.app.users.get(user.id);
    expect(row).toMatchObject({ first_name: 'Null', last_name: 'Per' });
    llm.enqueue({ text: 'Still here.' });
    await s.tg.injectMessage({ user, text: 'a question with a \u0000 in it' });
    await s.tg.waitForBotMessage(user.id, (m) => m.text === 'Still here.');
    const stored = await questionsOf(s.app.db, user.id);
    expect(stored).toEqual(['a question with a  in it']);
  });

  it('cuts a text and names beyond Telegram limits to them before storing', async () => {
    const user = {
      id: 71_002,
      first_name: 'L'.repeat(1_000),
      username: 'u'.repeat(100),
      language_code: 'en',
    };
    llm.enqueue({ text: 'Short answer.' });
    await s.tg.injectMessage({ user, text: `${'😀'.repeat(3)}${'x'.repeat(1_000_000)}` });
    await s.tg.waitForBotMessage(user.id, (m) => m.text === 'Short answer.');
    const row = await s.app.users.get(user.id);
    expect(row.first_name).toHaveLength(64);
    expect(row.username).toHaveLength(32);
    const [stored] = await questionsOf(s.app.db, user.id);
    expect(stored).toHaveLength(4096);
    expect(stored!.startsWith('😀😀😀x')).toBe(true);
    const metrics = await s.app.metrics.text();
    expect(metrics).toMatch(/vitte_bot_updates_cleaned_total\{reason="too_long"\} [1-9]/);
    expect(metrics).toMatch(/vitte_bot_updates_cleaned_total\{reason="nul"\} [1-9]/);
  });
});
