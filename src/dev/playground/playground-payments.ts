import type { FastifyInstance } from 'fastify';
import { NotFoundError, ValidationError } from '../../platform/errors.js';
import type { EmulatorClient } from '../bot-api-emulator/index.js';
import { body, readPositiveInt, readUser } from './playground-input.js';
import { proxy } from './playground-proxy.js';

/** The links createInvoiceLink makes (the emulator's and Telegram's format). */
const INVOICE_LINK = /^https:\/\/t\.me\/\$[A-Za-z0-9_-]{1,64}$/;

function readInvoiceLink(value: unknown): string {
  if (typeof value !== 'string' || !INVOICE_LINK.test(value))
    throw new ValidationError('invoice_link is not an invoice link');
  return value;
}

/**
 * "Pay" in the playground does what Telegram does for a Stars payment: a pre_checkout_query, and
 * once the bot approves it in time, the successful_payment message. Invoice messages and invoice
 * links (a URL button) both pay this way; a link's invoice is looked up for the pay dialog.
 */
export function registerPaymentRoutes(app: FastifyInstance, client: EmulatorClient): void {
  app.get(
    '/playground/api/invoice',
    proxy(async (req) => {
      const invoice = await client.invoiceByLink(readInvoiceLink(req.query.link));
      if (!invoice) throw new NotFoundError('invoice not found');
      const { title, description, currency, total_amount, subscription_period } = invoice;
      return { title, description, currency, total_amount, subscription_period };
    }),
  );

  app.post(
    '/playground/api/pay',
    proxy(async (req) => {
      const b = body(req.body);
      const user = readUser(b.user);
      const result = await client.checkout(
        b.invoice_link !== undefined
          ? { user, invoice_link: readInvoiceLink(b.invoice_link) }
          : { user, message_id: readPositiveInt(b.message_id, 'message_id') },
      );
      if (result.ok) return { ok: true };
      if (result.reason === 'timeout')
        return { ok: false, error_message: 'The bot did not confirm the payment in time.' };
      return { ok: false, error_message: result.error_message ?? 'The bot declined the payment.' };
    }),
  );
}
