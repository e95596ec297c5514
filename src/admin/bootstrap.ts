import type { App } from '../app.js';

/**
 * On the first start of `admin` or `all` (no admin account at all): create the owner from
 * ADMIN_BOOTSTRAP_USERNAME/PASSWORD, or — with no password configured — with a generated one that
 * is logged now. Called once the server listens, so a start that fails earlier (a busy port)
 * neither creates the owner nor shows a password nobody can use.
 */
export async function bootstrapAdmin(app: App, opts: { signInUrl?: string } = {}): Promise<void> {
  const res = await app.admin.accounts.bootstrap({
    username: app.config.ADMIN_BOOTSTRAP_USERNAME,
    password: app.config.ADMIN_BOOTSTRAP_PASSWORD,
  });
  if (res.kind === 'existing') return;
  if (res.source === 'env') {
    app.logger.info({ admin: res.username }, 'admin owner created from ADMIN_BOOTSTRAP_USERNAME/PASSWORD');
    return;
  }
  const where = opts.signInUrl ?? '/admin';
  app.logger.warn(
    { admin: res.username, password: res.password, url: where },
    `FIRST RUN: created the admin owner "${res.username}" with the one-time password ${res.password} — ` +
      `sign in at ${where} and change it on your profile page. This password is shown only now.`,
  );
}
