import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AdminPatch } from '../../src/domain/admin/admin.repository.js';
import { AdminRepository } from '../../src/domain/admin/admin.repository.js';
import { AdminAccountsService } from '../../src/domain/admin/admin-accounts.service.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { silentLogger } from '../helpers/db.js';
import { has } from '../helpers/services.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Two owners removing each other at the same moment, on separate connections. Each demotion is held
 * right before its write until the other one has either passed the last-owner check too (the race)
 * or is waiting for a lock the first one holds (the guard): so the interleaving is forced, not hoped for.
 * Without the guard one of the two died in a deadlock on the audit row's key lock of its actor
 * (a 500 after a second's wait) — the invariant held only by accident of that foreign key.
 */
describe.skipIf(!has('postgres'))('the last active owner under concurrent demotions', () => {
  let t: TestApp;
  let accounts: AdminAccountsService;
  let atWrite = 0;

  const someoneWaitsForALock = async () => {
    const res = await sql<{ n: number }>`
      select count(*)::int as n from pg_locks l join pg_stat_activity a on a.pid = l.pid
      where not l.granted and a.datname = current_database()`.execute(t.app.db);
    return res.rows[0]!.n > 0;
  };

  class HeldBeforeWrite extends AdminRepository {
    override async update(id: number, patch: AdminPatch) {
      atWrite++;
      await waitFor('the other demotion at its write or waiting for a lock', async () => {
        return atWrite >= 2 || (await someoneWaitsForALock());
      });
      return super.update(id, patch);
    }
  }

  beforeAll(async () => {
    t = await createTestApp({}, { label: 'admin_owners_race' });
    accounts = new AdminAccountsService(
      t.app.tx,
      new HeldBeforeWrite(t.app.tx),
      t.app.admin.audit,
      silentLogger,
    );
  });
  afterAll(() => t?.close());

  let o1: number;
  let o2: number;
  beforeEach(async () => {
    await sql`truncate admin_users restart identity cascade`.execute(t.app.db);
    atWrite = 0;
    const create = (username: string) =>
      t.app.admin.accounts.create({ username, password: `${username}-password-1`, role: 'owner' });
    o1 = (await create('first')).id;
    o2 = (await create('second')).id;
  });

  const actor = (id: number, username: string) => ({ id, username, ip: null });
  const activeOwners = async () => {
    const rows = await t.app.db
      .selectFrom('admin_users')
      .select('username')
      .where('role', '=', 'owner')
      .where('disabled_at', 'is', null)
      .execute();
    return rows.map((r) => r.username);
  };

  it.each([
    ['demote each other', { role: 'admin' }, { role: 'viewer' }],
    ['disable each other', { disabled: true }, { disabled: true }],
    ['one demotes, the other disables', { role: 'admin' }, { disabled: true }],
  ] as const)('two owners who %s at once leave one owner', async (_, first, second) => {
    const results = await Promise.allSettled([
      accounts.update(o2, first, actor(o1, 'first')),
      accounts.update(o1, second, actor(o2, 'second')),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(refused.reason).toMatchObject({ message: 'the last owner cannot be demoted or disabled' });
    expect(await activeOwners()).toHaveLength(1);
  });

  it('a demotion the other owner already made is not refused twice over', async () => {
    const plain = t.app.admin.accounts;
    await plain.update(o2, { role: 'admin' }, actor(o1, 'first'));
    // Run again, as a retried request does: the target is no longer an owner, so nothing to guard.
    await plain.update(o2, { role: 'admin' }, actor(o1, 'first'));
    expect(await activeOwners()).toEqual(['first']);
  });
});
