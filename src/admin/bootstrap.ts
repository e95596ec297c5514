import type { App } from '../app.js';

/**
 * On the first start of `admin` or `all` (no admin account at all): create the owner from
 * ADMIN_BOOTSTRAP_USERNAME/PASSWORD, or — with no password configured — with a generated one that
 * is logged exactly once, now. Afterwards this does nothing.
 */
export async function bootstrapAdmin(app: App): Promise<void> {
  const res = await app.admin.accounts.bootstrap({
    username: app.config.ADMIN_BOOTSTRAP_USERNAME,
    password: app.config.ADMIN_BOOTSTRAP_PASSWORD,
  });
  if (res.kind === 'existing') return;
  if (res.source === 'env') {
    app.logger.info({ admin: res.username }, 'admin owner created from ADMIN_BOOTSTRAP_USERNAME/PASSWORD');
    return;
  }
  app.logger.warn(
    { admin: res.username, password: res.password },
    `FIRST RUN: created the admin owner "${res.username}" with the one-time password ${res.password} — ` +
      'sign in at /admin and change it on your profile page. This password is shown only now.',
  );
}
