import type { FastifyInstance } from 'fastify';
import { body, ControlError, optionalInt } from './control-input.js';
import type { EmulatorCore } from './emulator-core.js';
import type { CheckoutInput } from './payment-flows.js';
import type { InjectPreCheckoutQueryInput, InjectSuccessfulPaymentInput } from './update-factory.js';

type ListQuery = { Querystring: { user_id?: string } };

function chargeId(value: unknown): string {
  const b = body<{ telegram_payment_charge_id?: unknown }>(value);
  if (typeof b.telegram_payment_charge_id !== 'string' || b.telegram_payment_charge_id === '') {
    throw new ControlError('telegram_payment_charge_id is required');
  }
  return b.telegram_payment_charge_id;
}

/** `/_emulator/…` for Stars payments: checkout, injected payments and renewals, the ledger. */
export function registerPaymentControlRoutes(app: FastifyInstance, core: EmulatorCore): void {
  const { payments, store } = core;
  const byUser = <T extends { user_id: number }>(list: T[], userId: unknown) => {
    const id = optionalInt(userId, 'user_id');
    return id === undefined ? list : list.filter((r) => r.user_id === id);
  };

  app.post('/_emulator/payments/checkout', async (req) => payments.checkout(body<CheckoutInput>(req.body)));
  app.post('/_emulator/updates/pre-checkout-query', async (req) =>
    payments.preCheckoutQuery(body<InjectPreCheckoutQueryInput>(req.body)),
  );
  app.post('/_emulator/updates/successful-payment', async (req) =>
    payments.successfulPayment(body<InjectSuccessfulPaymentInput>(req.body)),
  );
  app.post('/_emulator/updates/successful-payment/duplicate', async (req) =>
    payments.duplicatePayment(chargeId(req.body)),
  );
  app.post('/_emulator/updates/subscription-renewal', async (req) =>
    payments.renewSubscription(chargeId(req.body)),
  );

  app.get<{ Querystring: { chat_id?: string; link?: string } }>('/_emulator/invoices', async (req) => {
    const chatId = optionalInt(req.query.chat_id, 'chat_id');
    const { link } = req.query;
    return store.invoices.filter(
      (i) => (chatId === undefined || i.chat_id === chatId) && (link === undefined || i.link === link),
    );
  });
  app.get<ListQuery>('/_emulator/payments', async (req) =>
    byUser([...payments.ledger.charges.values()], req.query.user_id),
  );
  app.get<ListQuery>('/_emulator/refunds', async (req) => byUser(payments.ledger.refunds, req.query.user_id));
  app.get<ListQuery>('/_emulator/subscriptions', async (req) =>
    byUser([...payments.ledger.subscriptions.values()], req.query.user_id),
  );
  app.get<ListQuery>('/_emulator/pre-checkout-answers', async (req) =>
    byUser(payments.desk.answers, req.query.user_id),
  );
}
