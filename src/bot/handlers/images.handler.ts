import { Composer } from 'grammy';
import type { ImageRequestResult } from '../../domain/images/images.service.js';
import {
  IMAGE_CANCEL,
  IMAGE_FROM_ANSWER,
  IMAGE_REPEAT,
  imageKeyboards,
} from '../../integrations/telegram/image-keyboards.js';
import { formatDate } from '../../platform/i18n/i18n.js';
import type { BotContext } from '../context.js';

/**
 * `/image <prompt>` (alias `/imagine`), 🎨 under AI answers, ↻ / 🔁 under pictures and ✖ under a
 * placeholder. The handler only checks, takes the unit and queues; the worker draws and delivers.
 */
export const imagesHandler = new Composer<BotContext>();

const REFUSALS: Record<string, string> = {
  empty: 'image-usage',
  too_long: 'image-too-long',
  denied: 'image-denied',
  nsfw: 'image-nsfw',
  minors: 'image-minors',
  too_many: 'image-too-many',
  not_available: 'image-not-available',
  not_found: 'image-not-found',
};

/** The answer to a refused request, or undefined when the picture was queued. */
function refusal(ctx: BotContext, r: ImageRequestResult): string | undefined {
  switch (r.kind) {
    case 'queued':
      return undefined;
    case 'quota_exceeded':
      return r.resetsAt
        ? ctx.t('image-quota-exceeded', { resetsAt: formatDate(r.resetsAt, ctx.locale) })
        : ctx.t('image-quota-none');
    case 'refused':
      return ctx.t(REFUSALS[r.reason] as string, { max: r.max ?? 0 });
    case 'too_many':
      return ctx.t('image-too-many', { max: r.max });
    default:
      return ctx.t(REFUSALS[r.kind] as string);
  }
}

/** A queued picture gets its placeholder (with ✖), then goes to the worker. */
async function accepted(ctx: BotContext, r: ImageRequestResult): Promise<void> {
  const text = refusal(ctx, r);
  if (text !== undefined || r.kind !== 'queued') {
    await ctx.reply(text ?? ctx.t('error-generic'), { parse_mode: 'HTML' });
    return;
  }
  const waiting = r.ahead >= r.inFlight;
  const placeholder = await ctx
    .reply(waiting ? ctx.t('image-waiting', { position: r.ahead - r.inFlight + 1 }) : ctx.t('image-queued'), {
      reply_markup: imageKeyboards(ctx.deps.i18n).cancel(r.job.id, ctx.locale),
    })
    .catch((err: unknown) => {
      ctx.deps.logger.warn(
        { err, imageJobId: r.job.id },
        'picture placeholder not sent; the worker sends one',
      );
      return undefined;
    });
  await ctx.deps.images.start(r.job.id, placeholder?.message_id ?? null);
}

imagesHandler.command(['image', 'imagine'], async (ctx) => {
  ctx.handler = 'image';
  if (!ctx.user) return;
  await accepted(ctx, await ctx.deps.images.request(ctx.user, ctx.chat.id, ctx.match));
});

imagesHandler.callbackQuery(IMAGE_FROM_ANSWER, async (ctx) => {
  ctx.handler = 'image';
  const chatId = ctx.callbackQuery.message?.chat.id;
  if (!ctx.user || chatId === undefined) return ctx.answerCallbackQuery();
  await ctx.answerCallbackQuery();
  await accepted(ctx, await ctx.deps.images.fromAnswer(ctx.user, chatId, Number(ctx.match[1])));
});

imagesHandler.callbackQuery(IMAGE_REPEAT, async (ctx) => {
  ctx.handler = 'image';
  const chatId = ctx.callbackQuery.message?.chat.id;
  if (!ctx.user || chatId === undefined) return ctx.answerCallbackQuery();
  await ctx.answerCallbackQuery();
  const how = ctx.match[1] === 'again' ? 'again' : 'variation';
  await accepted(ctx, await ctx.deps.images.repeat(ctx.user, chatId, Number(ctx.match[2]), how));
});

imagesHandler.callbackQuery(IMAGE_CANCEL, async (ctx) => {
  ctx.handler = 'image-cancel';
  if (!ctx.user) return ctx.answerCallbackQuery();
  const result = await ctx.deps.images.cancel(ctx.user.id, Number(ctx.match[1]));
  if (result !== 'cancelled') {
    await ctx.answerCallbackQuery({
      text: ctx.t(result === 'too_late' ? 'image-too-late' : 'image-not-found'),
    });
    return;
  }
  await ctx.answerCallbackQuery();
  await ctx.editMessageText(ctx.t('image-cancelled')).catch(() => undefined);
});
