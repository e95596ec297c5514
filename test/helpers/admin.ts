import type { App } from '../../src/app.js';

/** What tests give ADMIN_BOOTSTRAP_PASSWORD: the owner then chooses `password` (see chooseOwnerPassword). */
export function bootstrapPasswordFor(password: string): string {
  return `first-${password}`;
}

/**
 * The first-start owner's first sign-in, as the panel requires it: sign in with the bootstrap
 * password and choose `password`. Tests that are about something else start from there.
 */
export async function chooseOwnerPassword(
  app: App,
  owner: { username: string; password: string },
): Promise<void> {
  const signed = await app.admin.auth.login({
    username: owner.username,
    password: bootstrapPasswordFor(owner.password),
    ip: '127.0.0.1',
    userAgent: 'test',
  });
  await app.admin.accounts.changePassword(
    { id: signed.admin.id, username: signed.admin.username, ip: '127.0.0.1' },
    signed.session.id,
    bootstrapPasswordFor(owner.password),
    owner.password,
  );
  await app.admin.auth.logout(signed.session.id);
}

/** chooseOwnerPassword unless the owner has chosen one already (helpers called more than once). */
export async function ensureOwnerPassword(
  app: App,
  owner: { username: string; password: string },
): Promise<void> {
  const row = await app.db
    .selectFrom('admin_users')
    .select('password_change_required')
    .where('username', '=', owner.username)
    .executeTakeFirst();
  if (row?.password_change_required) await chooseOwnerPassword(app, owner);
}
