import { randomBytes } from 'node:crypto';
import type { LabeledPrice, Message, StarAmount, StarTransactions } from 'grammy/types';
import { badRequest } from '../bot-api-error.js';
import { readReplyMarkup } from '../reply-markup.js';
import { STARS_SUBSCRIPTION_PERIOD } from '../stars-ledger.js';
import type { InvoiceFields, InvoiceRecord } from '../types.js';
import { type MethodContext, type MethodTable, requireChat, sendBotMessage } from './method-context.js';

/** The most a Star subscription may cost per period (it was 2,500 before Bot API 8.x). */
const MAX_SUBSCRIPTION_STARS = 10_000;

function readInvoice(ctx: MethodContext): InvoiceFields {
  const { params } = ctx;
  const title = params.string('title') ?? '';
  const description = params.string('description') ?? '';
  const payload = params.string('payload') ?? '';
  const currency = (params.string('currency') ?? '').toUpperCase();
  if (title.length < 1 || title.length > 32) throw badRequest('INVOICE_TITLE_EMPTY');
  if (description.length < 1 || description.length > 255) throw badRequest('INVOICE_DESCRIPTION_EMPTY');
  if (Buffer.byteLength(payload) < 1 || Buffer.byteLength(payload) > 128)
    throw badRequest('INVOICE_PAYLOAD_INVALID');
  if (!/^[A-Z]{3}$/.test(currency)) throw badRequest('CURRENCY_INVALID');
  const prices = params.json<LabeledPrice[]>('prices', "can't parse prices JSON object");
  if (!Array.isArray(prices) || prices.length === 0) throw badRequest('INVOICE_PRICES_EMPTY');
  for (const p of prices) {
    if (typeof p?.label !== 'string' || !Number.isInteger(p.amount))
      throw badRequest("can't parse prices JSON object");
  }
  if (currency === 'XTR') {
    // Stars invoices have exactly one price, paid with no payment provider.
    if (prices.length !== 1) throw badRequest('STARS_INVOICE_INVALID');
    if (params.has('provider_token')) throw badRequest('PROVIDER_TOKEN_INVALID');
  } else if (!params.has('provider_token')) {
    throw badRequest('PAYMENT_PROVIDER_INVALID');
  }
  const total = prices.reduce((sum, p) => sum + p.amount, 0);
  if (total <= 0) throw badRequest('INVOICE_PRICES_EMPTY');
  const period = params.int('subscription_period');
  if (period !== undefined && (period !== STARS_SUBSCRIPTION_PERIOD || currency !== 'XTR')) {
    throw badRequest('SUBSCRIPTION_PERIOD_INVALID');
  }
  // Telegram documents the cap but not its error; MTProto answers an invoice total outside the
  // allowed range with CURRENCY_TOTAL_AMOUNT_INVALID, so that is used here.
  if (period !== undefined && total > MAX_SUBSCRIPTION_STARS)
    throw badRequest('CURRENCY_TOTAL_AMOUNT_INVALID');
  return {
    title,
    description,
    payload,
    currency,
    prices: prices.map((p) => ({ label: p.label, amount: p.amount })),
    total_amount: total,
    ...(period !== undefined ? { subscription_period: period } : {}),
  };
}

function record(
  ctx: MethodContext,
  invoice: InvoiceFields,
  extra: Partial<InvoiceRecord> & Pick<InvoiceRecord, 'kind'>,
): InvoiceRecord {
  const rec: InvoiceRecord = { seq: ctx.store.nextSeq(), ...invoice, ...extra, at: Date.now() };
  ctx.store.invoices.push(rec);
  ctx.events.emit('invoice', rec.chat_id, { invoice: rec });
  return rec;
}

function sendInvoice(ctx: MethodContext): Message {
  const state = requireChat(ctx);
  const invoice = readInvoice(ctx);
  // Subscriptions exist only as invoice links; MTProto refuses to send one directly with this error.
  if (invoice.subscription_period !== undefined) throw badRequest('SUBSCRIPTION_EXPORT_MISSING');
  const markup = readReplyMarkup(ctx.params);
  if (markup && markup.kind !== 'inline') throw badRequest("can't parse inline keyboard markup JSON object");
  const startParameter = ctx.params.string('start_parameter');
  const content = {
    invoice: {
      title: invoice.title,
      description: invoice.description,
      start_parameter: startParameter ?? '',
      currency: invoice.currency,
      total_amount: invoice.total_amount,
    },
  };
  return sendBotMessage(ctx, state, content, markup, (stored) =>
    record(ctx, invoice, { kind: 'message', chat_id: state.chat.id, message_id: stored.message_id }),
  );
}

function createInvoiceLink(ctx: MethodContext): string {
  const invoice = readInvoice(ctx);
  const link = `https://t.me/$${randomBytes(12).toString('base64url')}`;
  record(ctx, invoice, { kind: 'link', link });
  return link;
}

/** Parameter errors as the Bot API server words them (get_required_string_arg, get_user_id). */
const required = (name: string) => badRequest(`parameter "${name}" is required`);

function userId(ctx: MethodContext): number {
  const id = ctx.params.int('user_id');
  if (id === undefined || id <= 0) throw badRequest('invalid user_id specified');
  return id;
}

/** Within the deadline and once only (the pre-checkout desk decides); ok=false needs a message. */
function answerPreCheckoutQuery(ctx: MethodContext): true {
  const id = ctx.params.string('pre_checkout_query_id') ?? '';
  // Like the Bot API server: a missing `ok` is false, which then needs error_message.
  const ok = ctx.params.bool('ok') === true;
  const errorMessage = ctx.params.string('error_message') ?? '';
  if (!ok && errorMessage === '') throw required('error_message');
  const answer = ctx.payments.desk.answer(id, ok, ok ? undefined : errorMessage);
  ctx.events.emit('pre_checkout_answer', answer.user_id, { answer });
  return true;
}

function refundStarPayment(ctx: MethodContext): true {
  const user = userId(ctx);
  const chargeId = ctx.params.string('telegram_payment_charge_id') ?? '';
  if (chargeId === '') throw required('telegram_payment_charge_id');
  ctx.payments.refund(user, chargeId);
  return true;
}

function editUserStarSubscription(ctx: MethodContext): true {
  const user = userId(ctx);
  const chargeId = ctx.params.string('telegram_payment_charge_id') ?? '';
  ctx.payments.editSubscription(user, chargeId, ctx.params.bool('is_canceled') === true);
  return true;
}

/** Out-of-range offset and limit are clamped, not refused, as the Bot API server does. */
function getStarTransactions(ctx: MethodContext): StarTransactions {
  const offset = Math.max(0, ctx.params.int('offset') ?? 0);
  const limit = Math.min(100, Math.max(1, ctx.params.int('limit') ?? 100));
  return { transactions: ctx.payments.ledger.list(offset, limit) };
}

function getMyStarBalance(ctx: MethodContext): StarAmount {
  return ctx.payments.ledger.balance();
}

export const paymentMethods: MethodTable = {
  sendInvoice,
  createInvoiceLink,
  answerPreCheckoutQuery,
  refundStarPayment,
  editUserStarSubscription,
  getStarTransactions,
  getMyStarBalance,
};
