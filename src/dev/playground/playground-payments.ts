import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../../platform/errors.js';
import type { EmulatorClient } from '../bot-api-emulator/index.js';
import { body, readPositiveInt, readUser } from './playground-input.js';
import { proxy } from './playground-proxy.js';

/** Telegram gives the bot 10 seconds to answer a pre-checkout query. */
const PRE_CHECKOUT_TIMEOUT_MS = 10_000;

/**
 * "Pay" on an invoice in the playground does what Telegram does for a Stars payment: a
 * pre_checkout_query, and once the bot approves it, the successful_payment message.
 */
export function registerPaymentRoute(app: FastifyInstance, client: EmulatorClient): void {
  app.post(
    '/playground/api/pay',
    proxy(async (req) => {
      const b = body(req.body);
      const user = readUser(b.user);
      const messageId = readPositiveInt(b.message_id, 'message_id');
      const invoice = (await client.invoices(user.id)).find((i) => i.message_id === messageId);
      if (!invoice) throw new NotFoundError('invoice not found');
      const update = await client.injectPreCheckoutQuery({
        user,
        invoice_payload: invoice.payload,
        total_amount: invoice.total_amount,
        currency: invoice.currency,
      });
      const queryId = update.pre_checkout_query?.id;
      let answer: { ok: boolean; error_message?: string } | undefined;
      try {
        answer = await client.waitFor(
          async () => (await client.preCheckoutAnswers()).find((a) => a.pre_checkout_query_id === queryId),
          'the pre-checkout answer',
          { timeoutMs: PRE_CHECKOUT_TIMEOUT_MS, intervalMs: 100 },
        );
      } catch {
        return { ok: false, error_message: 'The bot did not confirm the payment in time.' };
      }
      if (!answer.ok)
        return { ok: false, error_message: answer.error_message ?? 'The bot declined the payment.' };
      await client.injectSuccessfulPayment({
        user,
        invoice_payload: invoice.payload,
        total_amount: invoice.total_amount,
        currency: invoice.currency,
      });
      return { ok: true };
    }),
  );
}
