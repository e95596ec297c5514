import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeLlm } from '../../src/dev/fake-llm/index.js';
import { ChatRepository } from '../../src/domain/chat/chat.repository.js';
import { estimateTokens } from '../../src/domain/chat/context-builder.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import type { FakeLlm } from '../helpers/chat-system.js';

/** The rolling summary's request is bounded by the context like every other request. */
describe('dialog summaries', () => {
  let t: TestApp;
  let llm: FakeLlm;
  beforeAll(async () => {
    llm = await createFakeLlm({ defaultReply: 'A summary.' });
    t = await createTestApp(
      { LLM_BASE_URL: llm.url, LLM_CONTEXT_TOKENS: '8000', LLM_MAX_TOKENS: '1024' },
      { label: 'summary' },
    );
  });
  afterAll(async () => {
    await t?.close();
    await llm?.close();
  });

  it('folds 278k characters in requests within the context, oldest first, over several runs', async () => {
    const id = 9_300;
    await t.app.users.register({ id, first_name: 'S' });
    const dialog = await t.app.dialogs.create(id, 'long');
    const repo = new ChatRepository(t.app.tx);
    const ids: number[] = [];
    for (let i = 0; i < 40; i++) {
      const m = await repo.insertMessage({
        dialogId: dialog.id,
        role: i % 2 ? 'assistant' : 'user',
        content: `${i} ${'w'.repeat(6_950)}`,
      });
      ids.push(m.id);
    }
    const first = await t.app.summaries.summarize(dialog.id);
    expect(first.folded).toBeGreaterThan(0);
    const [request] = llm.requests();
    const tokens = request!.body.messages.reduce((n, m) => n + estimateTokens(String(m.content)), 0);
    expect(tokens).toBeLessThanOrEqual(8_000 - 1_024);
    const after = (await t.app.dialogs.find(dialog.id))!;
    expect(after.summary).toBe('A summary.');
    expect(after.summary_up_to_id).toBe(ids[first.folded - 1]);
    // The next run takes the next part, from where the last one stopped.
    const second = await t.app.summaries.summarize(dialog.id);
    expect(second.folded).toBeGreaterThan(0);
    expect((await t.app.dialogs.find(dialog.id))!.summary_up_to_id).toBe(
      ids[first.folded + second.folded - 1],
    );
    for (const r of llm.requests()) expect(JSON.stringify(r.body.messages).length).toBeLessThan(40_000);
  });
});
