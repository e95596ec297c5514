import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { ChatRepository } from '../../src/domain/chat/chat.repository.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { silentLogger } from '../helpers/db.js';

describe('dialogs', () => {
  let t: TestApp;
  let repo: ChatRepository;
  beforeAll(async () => {
    t = await createTestApp({}, { label: 'dialogs' });
    repo = new ChatRepository(t.app.tx);
  });
  afterAll(async () => t?.close());

  it('keeps exactly one active dialog per user, even under concurrent /new', async () => {
    const id = 9_100;
    await t.app.users.register({ id, first_name: 'D' });
    await Promise.all(Array.from({ length: 10 }, (_, i) => t.app.dialogs.create(id, `d${i}`)));
    const all = await t.app.db.selectFrom('dialogs').selectAll().where('user_id', '=', id).execute();
    expect(all).toHaveLength(10);
    expect(all.filter((d) => d.is_active)).toHaveLength(1);
  });

  it('two replicas taking the first message of a chat at once share one dialog', async () => {
    // A second App on the same database: its own connection pool, like a second api replica.
    const replica = createApp(t.app.config, { logger: silentLogger, role: 'replica' });
    try {
      const users = Array.from({ length: 10 }, (_, i) => 9_110 + i);
      for (const id of users) await t.app.users.register({ id, first_name: 'R' });
      const results = await Promise.all(
        users.flatMap((id) => [
          t.app.dialogs.ensureActive(id, 'from replica one'),
          replica.dialogs.ensureActive(id, 'from replica two'),
          // A /new racing with the first message ends with one active dialog too.
          ...(id === 9_119 ? [replica.dialogs.create(id, 'new')] : []),
        ]),
      );
      for (const id of users.slice(0, -1)) {
        const mine = results.filter((d) => d.user_id === id);
        expect(new Set(mine.map((d) => d.id)).size, `user ${id}`).toBe(1);
        const rows = await t.app.db.selectFrom('dialogs').selectAll().where('user_id', '=', id).execute();
        expect(rows, `user ${id}`).toHaveLength(1);
      }
      const last = await t.app.db.selectFrom('dialogs').selectAll().where('user_id', '=', 9_119).execute();
      expect(last.filter((d) => d.is_active)).toHaveLength(1);
    } finally {
      await replica.close();
    }
  });

  it("switches, deletes (the next most recent becomes active) and refuses other users' dialogs", async () => {
    const id = 9_101;
    await t.app.users.register({ id, first_name: 'E' });
    const a = await t.app.dialogs.create(id, 'a');
    const b = await t.app.dialogs.create(id, 'b');
    expect((await t.app.dialogs.switchTo(id, a.id)).is_active).toBe(true);
    expect((await t.app.dialogs.active(id))?.id).toBe(a.id);
    await t.app.dialogs.delete(id, a.id);
    expect((await t.app.dialogs.active(id))?.id).toBe(b.id);
    await expect(t.app.dialogs.switchTo(9_100, b.id)).rejects.toThrow(/not found/);
    await expect(t.app.dialogs.delete(9_100, b.id)).rejects.toThrow(/not found/);
  });

  it('/reset keeps history but starts a new context, even for an answer stored after the reset', async () => {
    const id = 9_102;
    await t.app.users.register({ id, first_name: 'F' });
    const dialog = await t.app.dialogs.create(id, 'r');
    const question = await repo.insertMessage({ dialogId: dialog.id, role: 'user', content: 'old question' });
    await t.app.dialogs.reset(id);
    // The answer to the old question lands after the reset (the user reset while it was being written).
    await repo.insertMessage({
      dialogId: dialog.id,
      role: 'assistant',
      content: 'old answer',
      metadata: { answered_up_to: question.id },
    });
    await repo.insertMessage({ dialogId: dialog.id, role: 'user', content: 'new question' });
    const fresh = (await t.app.dialogs.find(dialog.id))!;
    const context = await repo.contextMessages(fresh, 50);
    expect(context.map((m) => m.content)).toEqual(['new question']);
    const history = await t.app.db
      .selectFrom('messages')
      .select('content')
      .where('dialog_id', '=', dialog.id)
      .execute();
    expect(history).toHaveLength(3);
    expect(await repo.pendingMessages(fresh)).toHaveLength(1);
  });

  it('a summary written from before a /reset does not land in the new context', async () => {
    const id = 9_103;
    await t.app.users.register({ id, first_name: 'G' });
    const dialog = await t.app.dialogs.create(id, 's');
    const old = await repo.insertMessage({ dialogId: dialog.id, role: 'user', content: 'old' });
    await t.app.dialogs.reset(id);
    await repo.saveSummary(dialog.id, 'a summary of the old context', old.id);
    expect((await t.app.dialogs.find(dialog.id))!.summary).toBeNull();
    const later = await repo.insertMessage({ dialogId: dialog.id, role: 'user', content: 'new' });
    await repo.saveSummary(dialog.id, 'a summary of the new context', later.id);
    expect((await t.app.dialogs.find(dialog.id))!.summary).toBe('a summary of the new context');
  });

  it('the reply lease: one holder at a time, renewable by its holder only, free again once it expires', async () => {
    const id = 9_104;
    await t.app.users.register({ id, first_name: 'H' });
    const dialog = await t.app.dialogs.create(id, 'lease');
    // Nothing to answer: no lease is taken.
    expect(await repo.claimReply(dialog.id, '00000000-0000-4000-8000-000000000009', 60_000)).toBeUndefined();
    const q = await repo.insertMessage({ dialogId: dialog.id, role: 'user', content: 'q' });
    expect(await repo.claimReply(dialog.id, '00000000-0000-4000-8000-000000000001', 60_000)).toMatchObject({
      dialog: { id: dialog.id, reply_token: '00000000-0000-4000-8000-000000000001' },
    });
    // The claim that finds it held says how long the holder's lease still runs.
    const held = await repo.claimReply(dialog.id, '00000000-0000-4000-8000-000000000002', 60_000);
    expect(held && 'heldForMs' in held && held.heldForMs).toBeGreaterThan(55_000);
    expect(await repo.renewReply(dialog.id, '00000000-0000-4000-8000-000000000002', 60_000)).toBe(false);
    expect(await repo.renewReply(dialog.id, '00000000-0000-4000-8000-000000000001', 60_000)).toBe(true);
    // Releasing someone else's lease does nothing.
    await repo.releaseReply(dialog.id, '00000000-0000-4000-8000-000000000002');
    expect((await t.app.dialogs.find(dialog.id))!.reply_token).toBe('00000000-0000-4000-8000-000000000001');
    await repo.releaseReply(dialog.id, '00000000-0000-4000-8000-000000000001');
    expect((await t.app.dialogs.find(dialog.id))!.reply_until).toBeNull();

    // A holder that died: its lease runs out and the next claim gets it.
    const dead = '00000000-0000-4000-8000-000000000003';
    const next = '00000000-0000-4000-8000-000000000004';
    expect(await repo.claimReply(dialog.id, dead, 60_000)).toMatchObject({ dialog: { id: dialog.id } });
    expect(await repo.claimReply(dialog.id, next, 60_000)).toMatchObject({
      heldForMs: expect.any(Number),
    });
    await t.app.db
      .updateTable('dialogs')
      .set({ reply_until: new Date(Date.now() - 1_000) })
      .where('id', '=', dialog.id)
      .execute();
    expect(await repo.claimReply(dialog.id, next, 60_000)).toMatchObject({ dialog: { id: dialog.id } });

    // The job that lost the lease can no longer store or record anything.
    expect(
      await repo.storeAnswer({ dialogId: dialog.id, role: 'assistant', content: 'late' }, q.id, dead),
    ).toBeUndefined();
    const after = (await t.app.dialogs.find(dialog.id))!;
    expect([after.answered_up_to_id, after.pending_answer_id]).toEqual([0, null]);
    const answer = (await repo.storeAnswer(
      { dialogId: dialog.id, role: 'assistant', content: 'a' },
      q.id,
      next,
    ))!;
    expect(await repo.recordDelivery(answer.id, { sent: [1] }, { dialogId: dialog.id, token: dead })).toBe(
      false,
    );
    expect(await repo.recordDelivery(answer.id, { sent: [1] }, { dialogId: dialog.id, token: next })).toBe(
      true,
    );
    expect((await repo.findMessage(answer.id))!.telegram_message_id).toBe(1);
    const assistant = await t.app.db
      .selectFrom('messages')
      .select('content')
      .where('dialog_id', '=', dialog.id)
      .where('role', '=', 'assistant')
      .execute();
    expect(assistant).toEqual([{ content: 'a' }]);
  });

  it('the sweeper finds unanswered questions and undelivered answers, but not dialogs being answered', async () => {
    const id = 9_105;
    await t.app.users.register({ id, first_name: 'I' });
    const waiting = await t.app.dialogs.create({ userId: id, chatId: id }, 'waiting');
    await repo.insertMessage({ dialogId: waiting.id, role: 'user', content: 'q' });
    const undelivered = await t.app.dialogs.create({ userId: id, chatId: -5_000 }, 'undelivered');
    const q = await repo.insertMessage({ dialogId: undelivered.id, role: 'user', content: 'q' });
    const token = '00000000-0000-4000-8000-000000000006';
    await repo.claimReply(undelivered.id, token, 60_000);
    await repo.storeAnswer({ dialogId: undelivered.id, role: 'assistant', content: 'a' }, q.id, token);
    await repo.releaseReply(undelivered.id, token);
    const busy = await t.app.dialogs.create({ userId: id, chatId: -5_001 }, 'busy');
    await repo.insertMessage({ dialogId: busy.id, role: 'user', content: 'q' });
    await repo.claimReply(busy.id, '00000000-0000-4000-8000-000000000005', 60_000);
    await t.app.db
      .updateTable('dialogs')
      .set({ updated_at: new Date(Date.now() - 120_000) })
      .where('user_id', '=', id)
      .execute();

    const stuck = await repo.stuck(30, 100);
    expect(stuck).toEqual(expect.arrayContaining([waiting.id, undelivered.id]));
    expect(stuck).not.toContain(busy.id);
    // Storing the answer marked the question answered and the answer pending delivery, at once.
    const after = (await t.app.dialogs.find(undelivered.id))!;
    expect(after.answered_up_to_id).toBe(q.id);
    expect(after.pending_answer_id).not.toBeNull();
  });
});

describe('accepting a chat message when its reply cannot be queued', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ LLM_BASE_URL: 'http://127.0.0.1:9/v1' }, { label: 'chat_accept' });
  });
  afterAll(async () => t?.close());

  it('keeps the committed question and its quota unit; the sweeper queues its reply', async () => {
    const id = 9_200;
    const { user } = await t.app.users.register({ id, first_name: 'J' });
    const repo = new ChatRepository(t.app.tx);
    const dialog = await t.app.dialogs.create(id, 'two questions');
    const earlier = await repo.insertMessage({ dialogId: dialog.id, role: 'user', content: 'earlier' });
    await t.app.queue.close();
    // The enqueue runs after the commit and fails: the question is not lost for it.
    const accepted = await t.app.chat.accept(user, 'will this be answered?', {
      chatId: id,
      telegramMessageId: 2,
    });
    expect(accepted).toMatchObject({ kind: 'queued', dialogId: dialog.id });
    expect((await t.app.subscriptions.get(id)).messages_used).toBe(1);
    const after = (await t.app.dialogs.find(dialog.id))!;
    const pending = (await repo.pendingMessages(after)).map((m) => m.id);
    expect(pending).toEqual([earlier.id, accepted.kind === 'queued' ? accepted.messageId : -1]);
    await t.app.db
      .updateTable('dialogs')
      .set({ updated_at: new Date(Date.now() - 120_000) })
      .execute();
    expect(await repo.stuck(30, 10)).toEqual([dialog.id]);
  });

  it('a re-delivered message is stored and charged once', async () => {
    const id = 9_201;
    const { user } = await t.app.users.register({ id, first_name: 'K' });
    const origin = { chatId: id, telegramMessageId: 41 };
    expect(await t.app.chat.accept(user, 'hello', origin)).toMatchObject({ kind: 'queued' });
    expect(await t.app.chat.accept(user, 'hello', origin)).toEqual({ kind: 'duplicate' });
    expect((await t.app.subscriptions.get(id)).messages_used).toBe(1);
    const stored = await t.app.db
      .selectFrom('messages')
      .innerJoin('dialogs', 'dialogs.id', 'messages.dialog_id')
      .select('messages.content')
      .where('dialogs.user_id', '=', id)
      .execute();
    expect(stored).toEqual([{ content: 'hello' }]);
  });
});
