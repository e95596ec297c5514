import { randomBytes } from 'node:crypto';
import type { LabeledPrice, Message } from 'grammy/types';
import { BotApiError, badRequest } from '../bot-api-error.js';
import { readReplyMarkup } from '../reply-markup.js';
import type { InvoiceRecord } from '../types.js';
import {
  applyMarkup,
  baseMessage,
  emitSent,
  type MethodContext,
  type MethodTable,
  requireChat,
} from './method-context.js';

/** Telegram's only allowed subscription period for Stars (30 days). */
const STARS_SUBSCRIPTION_PERIOD = 2_592_000;

interface InvoiceInput {
  title: string;
  description: string;
  payload: string;
  currency: string;
  prices: LabeledPrice[];
  total_amount: number;
  subscription_period?: number;
}

function readInvoice(ctx: MethodContext): InvoiceInput {
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
  invoice: InvoiceInput,
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
  if (invoice.subscription_period !== undefined) throw badRequest('SUBSCRIPTION_PERIOD_INVALID');
  const markup = readReplyMarkup(ctx.params);
  if (markup && markup.kind !== 'inline') throw badRequest("can't parse inline keyboard markup JSON object");
  const startParameter = ctx.params.string('start_parameter');
  const stored = ctx.store.addMessage(state, true, (id) => ({
    ...baseMessage(ctx, state, id),
    invoice: {
      title: invoice.title,
      description: invoice.description,
      start_parameter: startParameter ?? '',
      currency: invoice.currency,
      total_amount: invoice.total_amount,
    },
    ...applyMarkup(state, markup),
  }));
  record(ctx, invoice, { kind: 'message', chat_id: state.chat.id, message_id: stored.message_id });
  return emitSent(ctx, state, stored);
}

function createInvoiceLink(ctx: MethodContext): string {
  const invoice = readInvoice(ctx);
  const link = `https://t.me/$${randomBytes(12).toString('base64url')}`;
  record(ctx, invoice, { kind: 'link', link });
  return link;
}

const QUERY_INVALID = 'Bad Request: query is too old and response timeout expired or query ID is invalid';

function answerPreCheckoutQuery(ctx: MethodContext): true {
  const id = ctx.params.string('pre_checkout_query_id') ?? '';
  const query = ctx.store.preCheckoutQueries.get(id);
  if (!query || query.answered) throw new BotApiError(400, QUERY_INVALID);
  const ok = ctx.params.bool('ok');
  if (ok === undefined) throw badRequest('parameter "ok" is required');
  const errorMessage = ctx.params.string('error_message');
  if (!ok && !errorMessage) throw badRequest('ERROR_MESSAGE_EMPTY');
  query.answered = true;
  const answer = {
    pre_checkout_query_id: id,
    ok,
    ...(!ok && errorMessage ? { error_message: errorMessage } : {}),
    at: Date.now(),
  };
  ctx.store.preCheckoutAnswers.push(answer);
  ctx.events.emit('pre_checkout_answer', query.user_id, answer);
  return true;
}

function refundStarPayment(ctx: MethodContext): true {
  const userId = ctx.params.requireInt('user_id', 'USER_ID_INVALID');
  const chargeId = ctx.params.requireString('telegram_payment_charge_id', 'CHARGE_ID_EMPTY');
  const payment = ctx.store.payments.get(chargeId);
  if (!payment || payment.user_id !== userId) throw badRequest('CHARGE_NOT_FOUND');
  if (payment.refunded) throw badRequest('CHARGE_ALREADY_REFUNDED');
  payment.refunded = true;
  const refund = { user_id: userId, telegram_payment_charge_id: chargeId, at: Date.now() };
  ctx.store.refunds.push(refund);
  ctx.events.emit('refund', userId, refund);
  return true;
}

export const paymentMethods: MethodTable = {
  sendInvoice,
  createInvoiceLink,
  answerPreCheckoutQuery,
  refundStarPayment,
};
