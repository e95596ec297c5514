import type { BotCommand, BotCommandScope, ChatFullInfo, UserFromGetMe } from 'grammy/types';
import { badRequest } from '../bot-api-error.js';
import type { MethodContext, MethodTable } from './method-context.js';
import { requireChat } from './method-context.js';

const NO_GIFTS = {
  unlimited_gifts: false,
  limited_gifts: false,
  unique_gifts: false,
  premium_subscription: false,
  gifts_from_channels: false,
};

function getMe(ctx: MethodContext): UserFromGetMe {
  return ctx.store.botUser;
}

function getChat(ctx: MethodContext): ChatFullInfo {
  const { chat } = requireChat(ctx);
  return {
    ...chat,
    accent_color_id: 0,
    max_reaction_count: 11,
    accepted_gift_types: NO_GIFTS,
  } as ChatFullInfo;
}

const SCOPES = new Set([
  'default',
  'all_private_chats',
  'all_group_chats',
  'all_chat_administrators',
  'chat',
  'chat_administrators',
  'chat_member',
]);

/** Commands are stored per (scope, language_code), exactly as Telegram keys them. */
function commandsKey(ctx: MethodContext): {
  key: string;
  scope: Record<string, unknown>;
  language_code: string;
} {
  const scope = ctx.params.json<BotCommandScope>('scope', "can't parse BotCommandScope JSON object") ?? {
    type: 'default',
  };
  if (typeof scope !== 'object' || !SCOPES.has((scope as { type?: string }).type ?? '')) {
    throw badRequest('unsupported bot command scope type');
  }
  const language = ctx.params.string('language_code') ?? '';
  if (language !== '' && !/^[a-z]{2}$/.test(language)) throw badRequest('invalid language code specified');
  const normalized = Object.fromEntries(Object.entries(scope).sort(([a], [b]) => a.localeCompare(b)));
  return { key: `${JSON.stringify(normalized)}|${language}`, scope: normalized, language_code: language };
}

function setMyCommands(ctx: MethodContext): true {
  const commands = ctx.params.json<BotCommand[]>('commands', "can't parse commands JSON object");
  if (!Array.isArray(commands)) throw badRequest("can't parse commands JSON object");
  if (commands.length > 100) throw badRequest('too many commands specified');
  for (const c of commands) {
    if (typeof c?.command !== 'string' || !/^[a-z0-9_]{1,32}$/.test(c.command))
      throw badRequest('BOT_COMMAND_INVALID');
    if (typeof c.description !== 'string' || c.description.trim() === '' || c.description.length > 256) {
      throw badRequest('command description is empty');
    }
  }
  const { key, scope, language_code } = commandsKey(ctx);
  if (commands.length === 0) ctx.store.commands.delete(key);
  else {
    const clean = commands.map((c) => ({ command: c.command, description: c.description }));
    ctx.store.commands.set(key, { scope, language_code, commands: clean });
  }
  return true;
}

function getMyCommands(ctx: MethodContext): BotCommand[] {
  return ctx.store.commands.get(commandsKey(ctx).key)?.commands ?? [];
}

function deleteMyCommands(ctx: MethodContext): true {
  ctx.store.commands.delete(commandsKey(ctx).key);
  return true;
}

/** setMyName / setMyDescription / setMyShortDescription and their getters, per language. */
function botText(field: 'name' | 'description' | 'short_description', max: number): MethodTable {
  const key = (ctx: MethodContext) => `${field}|${ctx.params.string('language_code') ?? ''}`;
  const pascal = field === 'name' ? 'Name' : field === 'description' ? 'Description' : 'ShortDescription';
  return {
    [`setMy${pascal}`]: (ctx) => {
      const value = ctx.params.string(field) ?? '';
      if (value.length > max) throw badRequest(`${field.replace('_', ' ')} is too long`);
      if (value === '') ctx.store.botTexts.delete(key(ctx));
      else ctx.store.botTexts.set(key(ctx), value);
      return true;
    },
    [`getMy${pascal}`]: (ctx) => ({ [field]: ctx.store.botTexts.get(key(ctx)) ?? '' }),
  };
}

function setChatMenuButton(ctx: MethodContext): true {
  ctx.params.json('menu_button', "can't parse menu button JSON object");
  return true;
}

export const botMethods: MethodTable = {
  getMe,
  getChat,
  setMyCommands,
  getMyCommands,
  deleteMyCommands,
  ...botText('name', 64),
  ...botText('description', 512),
  ...botText('short_description', 120),
  setChatMenuButton,
  getChatMenuButton: () => ({ type: 'default' }),
};
