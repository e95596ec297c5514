import { Composer } from 'grammy';
import { escapeHtml } from '../../integrations/telegram/format/telegram-html.js';
import { NotFoundError } from '../../platform/errors.js';
import type { BotContext } from '../context.js';
import { DIALOG_DELETE, DIALOG_SWITCH, dialogsKeyboard } from '../keyboards/dialogs.keyboard.js';

/** /new [title], /dialogs (switch or delete with buttons), /reset. */
export const dialogsHandler = new Composer<BotContext>();
const privateChats = dialogsHandler.chatType('private');

privateChats.command('new', async (ctx) => {
  ctx.handler = 'new';
  if (!ctx.user) return;
  const n = (await ctx.deps.dialogs.count(ctx.user.id)) + 1;
  const title = ctx.match.trim() || ctx.t('dialog-new-default-title', { n });
  const dialog = await ctx.deps.dialogs.create(ctx.user.id, title);
  await ctx.reply(ctx.t('dialog-new', { title: escapeHtml(dialog.title) }), { parse_mode: 'HTML' });
});

async function showDialogs(ctx: BotContext, edit: boolean): Promise<void> {
  if (!ctx.user) return;
  const list = await ctx.deps.dialogs.list(ctx.user.id, 10);
  const text = list.length ? ctx.t('dialogs-title') : ctx.t('dialogs-empty');
  const markup = { parse_mode: 'HTML' as const, reply_markup: dialogsKeyboard(list, ctx.t('button-delete')) };
  if (edit) await ctx.editMessageText(text, markup).catch(() => undefined);
  else await ctx.reply(text, markup);
}

privateChats.command('dialogs', async (ctx) => {
  ctx.handler = 'dialogs';
  await showDialogs(ctx, false);
});

privateChats.command('reset', async (ctx) => {
  ctx.handler = 'reset';
  if (!ctx.user) return;
  await ctx.deps.dialogs.reset(ctx.user.id);
  await ctx.reply(ctx.t('dialog-reset'));
});

dialogsHandler.callbackQuery(DIALOG_SWITCH, async (ctx) => {
  ctx.handler = 'dialogs';
  if (!ctx.user) return;
  try {
    const dialog = await ctx.deps.dialogs.switchTo(ctx.user.id, Number(ctx.match[1]));
    await ctx.answerCallbackQuery({
      text: ctx.t('dialog-switched', { title: dialog.title }).replace(/<\/?b>/g, ''),
    });
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
    await ctx.answerCallbackQuery({ text: ctx.t('dialog-not-found') });
  }
  await showDialogs(ctx, true);
});

dialogsHandler.callbackQuery(DIALOG_DELETE, async (ctx) => {
  ctx.handler = 'dialogs';
  if (!ctx.user) return;
  try {
    await ctx.deps.dialogs.delete(ctx.user.id, Number(ctx.match[1]));
    await ctx.answerCallbackQuery({ text: ctx.t('dialog-deleted') });
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
    await ctx.answerCallbackQuery({ text: ctx.t('dialog-not-found') });
  }
  await showDialogs(ctx, true);
});
