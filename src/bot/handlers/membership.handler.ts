import { Composer } from 'grammy';
import type { BotContext } from '../context.js';

/**
 * Telegram tells the bot when a person blocks or unblocks it in a private chat; keep
 * `bot_blocked_at` current without waiting for a 403 on the next send.
 */
export const membershipHandler = new Composer<BotContext>();

membershipHandler.on('my_chat_member', async (ctx) => {
  ctx.handler = 'membership';
  const update = ctx.myChatMember;
  if (update.chat.type !== 'private') return;
  if (update.new_chat_member.status === 'kicked') await ctx.deps.users.markBotBlocked(update.chat.id);
  else if (update.new_chat_member.status === 'member') await ctx.deps.users.touch(update.from);
});
