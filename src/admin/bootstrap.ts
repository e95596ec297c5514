import type { App } from '../app.js';

/**
 * On the start of `admin` or `all`: with no admin account at all, create the owner from
 * ADMIN_BOOTSTRAP_USERNAME/PASSWORD or — with no password configured — with a generated one that is
 * logged now. Until someone signs in with it, each start offers it again (a new generated password
 * each time). Called once the server listens, so a start that fails earlier (a busy port) shows no
 * password nobody can use. The owner must choose a new password at the first sign-in.
 */
export async function bootstrapAdmin(app: App, opts: { signInUrl?: string } = {}): Promise<void> {
  const res = await app.admin.accounts.bootstrap({
    username: app.config.ADMIN_BOOTSTRAP_USERNAME,
    password: app.config.ADMIN_BOOTSTRAP_PASSWORD,
  });
  if (res.kind === 'existing') return;
  const where = opts.signInUrl ?? '/admin';
  if (res.source === 'env') {
    app.logger.info(
      { admin: res.username, url: where },
      res.kind === 'created'
        ? 'admin owner created from ADMIN_BOOTSTRAP_USERNAME/PASSWORD; it must choose a new password at the first sign-in'
        : 'admin owner still waits for its first sign-in with ADMIN_BOOTSTRAP_PASSWORD',
    );
    return;
  }
  const what =
    res.kind === 'created' ? 'created the admin owner' : 'nobody has signed in yet as the admin owner';
  app.logger.warn(
    { admin: res.username, password: res.password, url: where },
    `FIRST RUN: ${what} "${res.username}"; its one-time password is ${res.password} — sign in at ` +
      `${where} and choose your own password. Until someone signs in, each start shows a new one.`,
  );
}
