import type { InvoiceRecord } from '../../src/dev/bot-api-emulator/index.js';
import { bootstrapPasswordFor, ensureOwnerPassword } from './admin.js';
import type { TestSystem } from './system.js';

export interface TgUser {
  id: number;
  first_name: string;
  language_code: string;
}

export const tgUser = (id: number, language_code = 'en'): TgUser => ({
  id,
  first_name: `Buyer${id}`,
  language_code,
});

/**
 * What a user does to buy `code`: /buy, then the product's button. Returns the invoice the bot
 * sent (a message, or a link for a subscription).
 */
export async function orderInvoice(s: TestSystem, user: TgUser, code: string): Promise<InvoiceRecord> {
  const before = (await s.tg.invoices()).length;
  await s.tg.injectMessage({ user, text: '/buy' });
  const menu = await s.tg.waitForBotMessage(user.id, (m) =>
    Boolean(
      m.reply_markup?.inline_keyboard
        .flat()
        .some((b) => 'callback_data' in b && b.callback_data === `buy:${code}`),
    ),
  );
  await s.tg.injectCallbackQuery({ user, message_id: menu.message_id, data: `buy:${code}` });
  return s.tg.waitFor(async () => {
    const all = await s.tg.invoices();
    return all.length > before ? all[all.length - 1] : undefined;
  }, `an invoice for ${code}`);
}

/** The user presses Pay on an invoice: Telegram's pre-checkout, then the charge if the bot said yes. */
export function pay(s: TestSystem, user: TgUser, invoice: InvoiceRecord) {
  return invoice.kind === 'link'
    ? s.tg.checkout({ user, invoice_link: invoice.link! })
    : s.tg.checkout({ user, message_id: invoice.message_id!, chat_id: invoice.chat_id! });
}

/** Waits for the bot's message in the user's chat whose text contains `text`. */
export function botSays(s: TestSystem, userId: number, text: string, timeoutMs = 10_000) {
  return s.tg.waitForBotMessage(userId, (m) => Boolean(m.text?.includes(text)), { timeoutMs });
}

/** The payments rows of a user, oldest first. */
export function paymentRows(s: TestSystem, userId: number) {
  return s.app.db.selectFrom('payments').selectAll().where('user_id', '=', userId).orderBy('id').execute();
}

/** Waits until the user's payment rows satisfy `check`. */
export function waitForPayments(
  s: TestSystem,
  userId: number,
  check: (rows: Awaited<ReturnType<typeof paymentRows>>) => boolean,
  what: string,
  timeoutMs = 15_000,
) {
  return s.tg.waitFor(
    async () => {
      const rows = await paymentRows(s, userId);
      return check(rows) ? rows : undefined;
    },
    what,
    { timeoutMs, intervalMs: 50 },
  );
}

export const ADMIN = { username: 'owner', password: 'owner-password-1' };

/** A signed-in admin session on the system's admin JSON API (bootstrapped from ADMIN, its own password chosen). */
export async function adminSession(s: TestSystem) {
  await ensureOwnerPassword(s.app, ADMIN);
  const res = await fetch(`${s.url}/admin/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(ADMIN),
  });
  if (res.status !== 200) throw new Error(`admin sign-in failed: ${res.status} ${await res.text()}`);
  const cookie = res.headers
    .getSetCookie()
    .find((c) => c.startsWith('vitte_admin='))!
    .split(';')[0]!;
  const { csrfToken } = (await res.json()) as { csrfToken: string };
  const call = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${s.url}${path}`, {
      method,
      headers: {
        cookie,
        ...(method === 'GET' ? {} : { 'x-csrf-token': csrfToken }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await r.text();
    return { status: r.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {}, text };
  };
  return {
    get: (path: string) => call('GET', path),
    post: (path: string, body: unknown = {}) => call('POST', path, body),
    put: (path: string, body: unknown) => call('PUT', path, body),
  };
}

/** The env for startSystem that bootstraps the ADMIN account. */
export const ADMIN_ENV = {
  ADMIN_BOOTSTRAP_USERNAME: ADMIN.username,
  ADMIN_BOOTSTRAP_PASSWORD: bootstrapPasswordFor(ADMIN.password),
};
