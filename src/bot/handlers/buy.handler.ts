import { Composer, GrammyError, InlineKeyboard } from 'grammy';
import { ConflictError, NotFoundError } from '../../platform/errors.js';
import { formatDate } from '../../platform/i18n/i18n.js';
import type { BotContext } from '../context.js';
import {
  BUY_MENU,
  BUY_PRODUCT,
  buyButton,
  catalogueKeyboard,
  renewalButton,
  SUBSCRIPTION_RENEWAL,
} from '../keyboards/buy.keyboard.js';

/** /buy and its buttons: the catalogue, an invoice per product, and Star subscription renewal. */
export const buyHandler = new Composer<BotContext>();

// Invoices go to private chats only: in a group anyone could press Pay on someone else's order.
buyHandler.chatType(['group', 'supergroup']).command('buy', async (ctx) => {
  ctx.handler = 'buy';
  await ctx.reply(ctx.t('buy-private-only'));
});

buyHandler.chatType('private').command('buy', async (ctx) => {
  ctx.handler = 'buy';
  await showCatalogue(ctx);
});

buyHandler.callbackQuery(BUY_MENU, async (ctx) => {
  ctx.handler = 'buy';
  await ctx.answerCallbackQuery();
  await showCatalogue(ctx);
});

async function showCatalogue(ctx: BotContext): Promise<void> {
  const products = await ctx.deps.payments.offers();
  if (!products.length) {
    await ctx.reply(ctx.t('buy-empty'));
    return;
  }
  await ctx.reply(ctx.t('buy-title'), {
    parse_mode: 'HTML',
    reply_markup: catalogueKeyboard(products, ctx.locale, (k, v) => ctx.t(k, v)),
  });
}

buyHandler.callbackQuery(BUY_PRODUCT, async (ctx) => {
  ctx.handler = 'buy';
  if (!ctx.user || ctx.chat?.type !== 'private') return ctx.answerCallbackQuery();
  const { payments } = ctx.deps;
  let invoice: Awaited<ReturnType<typeof payments.createOrder>>;
  try {
    invoice = await payments.createOrder(ctx.user.id, ctx.match[1]!, ctx.locale);
  } catch (err) {
    const key =
      err instanceof NotFoundError
        ? 'buy-withdrawn'
        : err instanceof ConflictError
          ? err.details?.reason === 'endless_plan'
            ? 'buy-endless-plan'
            : 'buy-already-subscribed'
          : undefined;
    if (!key) throw err;
    await ctx.answerCallbackQuery({ text: ctx.t(key), show_alert: true });
    return;
  }
  await ctx.answerCallbackQuery();
  const prices = [{ label: invoice.title, amount: invoice.price }];
  if (invoice.subscriptionPeriod === undefined) {
    await ctx.replyWithInvoice(invoice.title, invoice.description, invoice.payload, invoice.currency, prices);
    return;
  }
  // Star subscriptions exist only as invoice links (with an empty provider token for Stars).
  let link = invoice.link;
  if (!link) {
    link = await ctx.api.createInvoiceLink(
      invoice.title,
      invoice.description,
      invoice.payload,
      '',
      invoice.currency,
      prices,
      { subscription_period: invoice.subscriptionPeriod },
    );
    await payments.attachInvoiceLink(invoice.orderId, link);
  }
  await ctx.reply(ctx.t('buy-subscription', { title: invoice.title, price: invoice.price }), {
    parse_mode: 'HTML',
    reply_markup: new InlineKeyboard().url(ctx.t('buy-subscribe-button', { price: invoice.price }), link),
  });
});

buyHandler.callbackQuery(SUBSCRIPTION_RENEWAL, async (ctx) => {
  ctx.handler = 'subscription';
  if (!ctx.user) return ctx.answerCallbackQuery();
  const cancel = ctx.match[1] === 'cancel';
  let star: Awaited<ReturnType<typeof ctx.deps.payments.setRenewalCanceled>>;
  try {
    star = await ctx.deps.payments.setRenewalCanceled(ctx.user.id, cancel);
  } catch (err) {
    if (err instanceof NotFoundError)
      return ctx.answerCallbackQuery({ text: ctx.t('sub-none'), show_alert: true });
    if (err instanceof GrammyError) {
      ctx.deps.logger.warn({ err, userId: ctx.user.id }, 'Telegram refused the subscription change');
      return ctx.answerCallbackQuery({ text: ctx.t('sub-failed'), show_alert: true });
    }
    throw err;
  }
  await ctx.answerCallbackQuery();
  const until = formatDate(star.period_end, ctx.locale);
  await ctx.reply(ctx.t(cancel ? 'sub-canceled' : 'sub-resumed', { until }), {
    reply_markup: renewalButton(
      buyButton((k, v) => ctx.t(k, v)),
      cancel,
      (k, v) => ctx.t(k, v),
    ),
  });
});
