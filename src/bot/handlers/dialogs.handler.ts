import { Composer } from 'grammy';
import type { DialogScope } from '../../domain/dialogs/dialogs.service.js';
import { escapeHtml } from '../../integrations/telegram/format/telegram-html.js';
import { NotFoundError, ValidationError } from '../../platform/errors.js';
import type { BotContext } from '../context.js';
import {
  DIALOG_DELETE,
  DIALOG_DELETE_CONFIRMED,
  DIALOG_LIST,
  DIALOG_SWITCH,
  deleteConfirmKeyboard,
  dialogsKeyboard,
} from '../keyboards/dialogs.keyboard.js';

/**
 * /new [title], /dialogs (switch or delete with buttons), /reset, /persona. Dialogs are per user
 * and chat: in a group these act on the sender's dialogs in that group.
 */
export const dialogsHandler = new Composer<BotContext>();

function scope(ctx: BotContext): DialogScope | undefined {
  const chatId = ctx.chat?.id ?? ctx.callbackQuery?.message?.chat.id;
  return ctx.user && chatId !== undefined ? { userId: ctx.user.id, chatId } : undefined;
}

async function newTitle(ctx: BotContext, userId: number): Promise<string> {
  return ctx.t('dialog-new-default-title', { n: (await ctx.deps.dialogs.count(userId)) + 1 });
}

dialogsHandler.command('new', async (ctx) => {
  ctx.handler = 'new';
  const s = scope(ctx);
  if (!s) return;
  const title = ctx.match.trim() || (await newTitle(ctx, s.userId));
  const dialog = await ctx.deps.dialogs.create(s, title);
  await ctx.reply(ctx.t('dialog-new', { title: escapeHtml(dialog.title) }), { parse_mode: 'HTML' });
});

async function showDialogs(ctx: BotContext, edit: boolean): Promise<void> {
  const s = scope(ctx);
  if (!s) return;
  const list = await ctx.deps.dialogs.list(s, 10);
  const text = list.length ? ctx.t('dialogs-title') : ctx.t('dialogs-empty');
  const markup = { parse_mode: 'HTML' as const, reply_markup: dialogsKeyboard(list, ctx.t('button-delete')) };
  if (edit) await ctx.editMessageText(text, markup).catch(() => undefined);
  else await ctx.reply(text, markup);
}

dialogsHandler.command('dialogs', async (ctx) => {
  ctx.handler = 'dialogs';
  await showDialogs(ctx, false);
});

dialogsHandler.command('reset', async (ctx) => {
  ctx.handler = 'reset';
  const s = scope(ctx);
  if (!s) return;
  await ctx.deps.dialogs.reset(s);
  await ctx.reply(ctx.t('dialog-reset'));
});

/** `/persona <text>` gives the active dialog its own system prompt; `/persona reset` removes it. */
dialogsHandler.command('persona', async (ctx) => {
  ctx.handler = 'persona';
  const s = scope(ctx);
  if (!s) return;
  const arg = ctx.match.trim();
  if (!arg) {
    const prompt = (await ctx.deps.dialogs.active(s))?.system_prompt;
    await ctx.reply(
      prompt ? ctx.t('persona-current', { persona: escapeHtml(prompt) }) : ctx.t('persona-none'),
      { parse_mode: 'HTML' },
    );
    return;
  }
  const clear = arg.toLowerCase() === 'reset';
  try {
    await ctx.deps.dialogs.setPersona(s, clear ? null : arg, () => newTitle(ctx, s.userId));
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    await ctx.reply(ctx.t('persona-too-long', { max: Number(err.details?.max) }));
    return;
  }
  await ctx.reply(ctx.t(clear ? 'persona-cleared' : 'persona-set'));
});

dialogsHandler.callbackQuery(DIALOG_SWITCH, async (ctx) => {
  ctx.handler = 'dialogs';
  const s = scope(ctx);
  if (!s) return;
  try {
    const dialog = await ctx.deps.dialogs.switchTo(s, Number(ctx.match[1]));
    await ctx.answerCallbackQuery({
      text: ctx.t('dialog-switched', { title: dialog.title }).replace(/<\/?b>/g, ''),
    });
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
    await ctx.answerCallbackQuery({ text: ctx.t('dialog-not-found') });
  }
  await showDialogs(ctx, true);
});

async function deleteDialog(ctx: BotContext, s: DialogScope, dialogId: number): Promise<void> {
  try {
    await ctx.deps.dialogs.delete(s, dialogId);
    await ctx.answerCallbackQuery({ text: ctx.t('dialog-deleted') });
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
    await ctx.answerCallbackQuery({ text: ctx.t('dialog-not-found') });
  }
  await showDialogs(ctx, true);
}

/** A dialog with history is one tap from being lost: ask first. An empty one goes at once. */
dialogsHandler.callbackQuery(DIALOG_DELETE, async (ctx) => {
  ctx.handler = 'dialogs';
  const s = scope(ctx);
  if (!s) return;
  const dialogId = Number(ctx.match[1]);
  // The list shows the newest 10; a button from an older list may name one further back.
  const dialog = (await ctx.deps.dialogs.list(s, 100)).find((d) => d.id === dialogId);
  if (!dialog?.message_count) {
    await deleteDialog(ctx, s, dialogId);
    return;
  }
  await ctx.answerCallbackQuery();
  await ctx.editMessageText(
    ctx.t('dialog-delete-confirm', { title: escapeHtml(dialog.title), count: dialog.message_count }),
    {
      parse_mode: 'HTML',
      reply_markup: deleteConfirmKeyboard(dialogId, {
        confirm: ctx.t('button-delete-confirm'),
        cancel: ctx.t('button-cancel'),
      }),
    },
  );
});

dialogsHandler.callbackQuery(DIALOG_DELETE_CONFIRMED, async (ctx) => {
  ctx.handler = 'dialogs';
  const s = scope(ctx);
  if (!s) return;
  await deleteDialog(ctx, s, Number(ctx.match[1]));
});

dialogsHandler.callbackQuery(DIALOG_LIST, async (ctx) => {
  ctx.handler = 'dialogs';
  await ctx.answerCallbackQuery();
  await showDialogs(ctx, true);
});
