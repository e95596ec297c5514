import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DialogsRepository } from '../../src/domain/dialogs/dialogs.repository.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

describe('dialogs', () => {
  let t: TestApp;
  let repo: DialogsRepository;
  beforeAll(async () => {
    t = await createTestApp({}, { label: 'dialogs' });
    repo = new DialogsRepository(t.app.db);
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
    const fresh = (await repo.findById(dialog.id))!;
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
});
