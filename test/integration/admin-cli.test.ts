import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateUp } from '../../src/platform/db/migrator.js';
import { createTestDatabase, silentLogger, type TestDatabase } from '../helpers/db.js';
import { runVitte, startVitte } from '../helpers/process.js';
import { has } from '../helpers/services.js';

/** `vitte <args>` to its end, quiet but for warnings; `stdin` is what a person would type. */
const vitte = (args: string[], env: Record<string, string>, stdin?: string) =>
  runVitte(args, { LOG_LEVEL: 'warn', ...env }, { stdin: stdin ?? '' });

/** `vitte admin create-user` and the `admin` role's first-run bootstrap, as real processes on Postgres. */
describe.skipIf(!has('postgres'))('vitte admin (CLI)', () => {
  let testDb: TestDatabase;
  let env: Record<string, string>;

  beforeAll(async () => {
    testDb = await createTestDatabase('admin_cli');
    const db = testDb.open();
    await migrateUp(db.db, silentLogger);
    await db.close();
    env = { DATABASE_URL: testDb.url!, DATA_DIR: testDb.dataDir };
  });
  afterAll(async () => testDb?.drop());

  async function accounts() {
    const db = testDb.open();
    try {
      return await db.db
        .selectFrom('admin_users')
        .select(['username', 'role', 'password_hash'])
        .orderBy('id')
        .execute();
    } finally {
      await db.close();
    }
  }

  it('creates the first account as owner with the password from ADMIN_PASSWORD, never from argv', async () => {
    const refused = await vitte(['admin', 'create-user', 'root', '--password', 'secret-password-1'], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('never from arguments');

    const ok = await vitte(['admin', 'create-user', 'Root'], { ...env, ADMIN_PASSWORD: 'root-password-123' });
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('created admin account "root" (role owner)');
    const [root] = await accounts();
    expect(root).toMatchObject({ username: 'root', role: 'owner' });
    expect(root!.password_hash).toMatch(/^\$argon2id\$/);
    expect(ok.stdout + ok.stderr).not.toContain('root-password-123');
  });

  it('reads the password from stdin, defaults later accounts to admin, refuses duplicates and weak passwords', {
    timeout: 60_000,
  }, async () => {
    const piped = await vitte(['admin', 'create-user', 'ops'], env, 'ops-password-123\n');
    expect(piped.code).toBe(0);
    expect(piped.stdout).toContain('(role admin)');
    const viewer = await vitte(['admin', 'create-user', 'eve', '--role', 'viewer'], {
      ...env,
      ADMIN_PASSWORD: 'eve-password-123',
    });
    expect(viewer.stdout).toContain('(role viewer)');

    const dup = await vitte(['admin', 'create-user', 'ops'], { ...env, ADMIN_PASSWORD: 'ops-password-456' });
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain('taken');
    const weak = await vitte(['admin', 'create-user', 'tiny', '--role=viewer'], {
      ...env,
      ADMIN_PASSWORD: 'short',
    });
    expect(weak.code).toBe(2);
    expect(weak.stderr).toContain('12-256 characters');
    expect((await accounts()).map((a) => `${a.username}:${a.role}`)).toEqual([
      'root:owner',
      'ops:admin',
      'eve:viewer',
    ]);
  });

  it('the admin role on an empty database creates an owner with a one-time password, logged once', {
    timeout: 60_000,
  }, async () => {
    const fresh = await createTestDatabase('admin_cli_boot');
    try {
      const db = fresh.open();
      await migrateUp(db.db, silentLogger);
      await db.close();
      const roleEnv = {
        DATABASE_URL: fresh.url!,
        DATA_DIR: fresh.dataDir,
        ADMIN_PORT: '0',
        LOG_LEVEL: 'info',
      };

      const first = startVitte(['admin'], roleEnv);
      const line = await first.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('FIRST RUN'));
      const password = String(line.password);
      expect(password.length).toBeGreaterThanOrEqual(20);
      // The password is shown once the role runs, so it comes after its address.
      const base = String(line.url).replace(/\/admin$/, '');
      expect(first.output()).toContain(`"url":"${base}"`);
      const login = await fetch(`${base}/admin/api/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password }),
      });
      expect(login.status).toBe(200);
      expect((await login.json()).admin.role).toBe('owner');
      expect((await fetch(`${base}/admin/health`)).status).toBe(200);
      expect((await fetch(`${base}/metrics`)).status).toBe(200);
      // Signals are handled once the start is complete.
      await expect.poll(() => first.output()).toContain('"msg":"started"');
      expect((await first.stop()).code).toBe(0);

      const second = startVitte(['admin'], roleEnv);
      await second.waitForLog((l) => l.msg === 'started');
      await second.stop();
      expect(second.output()).not.toContain('FIRST RUN');
      expect(second.output()).not.toContain(password);
    } finally {
      await fresh.drop();
    }
  });
});
