import type { InlineKeyboardMarkup, ReplyKeyboardMarkup } from 'grammy/types';
import { badRequest } from './bot-api-error.js';
import type { Params } from './params.js';

export type ReplyMarkupInput =
  | { kind: 'inline'; markup: InlineKeyboardMarkup }
  | { kind: 'keyboard'; markup: ReplyKeyboardMarkup }
  | { kind: 'remove' }
  | { kind: 'force_reply' };

const CANT_PARSE = "can't parse reply keyboard markup JSON object";
const INLINE_ACTIONS = [
  'url',
  'callback_data',
  'web_app',
  'login_url',
  'switch_inline_query',
  'switch_inline_query_current_chat',
  'switch_inline_query_chosen_chat',
  'copy_text',
  'callback_game',
  'pay',
];

/** `reply_markup` checked the way Telegram checks it; undefined when not given. */
export function readReplyMarkup(params: Params): ReplyMarkupInput | undefined {
  const raw = params.json<unknown>('reply_markup', CANT_PARSE);
  if (raw === undefined) return undefined;
  if (typeof raw !== 'object' || raw === null) throw badRequest(CANT_PARSE);
  const m = raw as Record<string, unknown>;
  if ('inline_keyboard' in m) return { kind: 'inline', markup: validateInline(m.inline_keyboard) };
  if ('keyboard' in m) {
    if (!Array.isArray(m.keyboard) || !m.keyboard.every(Array.isArray)) throw badRequest(CANT_PARSE);
    for (const row of m.keyboard as unknown[][]) {
      for (const b of row) {
        const text = typeof b === 'string' ? b : (b as { text?: unknown } | null)?.text;
        if (typeof text !== 'string' || text === '') throw badRequest('keyboard button text is empty');
      }
    }
    return { kind: 'keyboard', markup: m as unknown as ReplyKeyboardMarkup };
  }
  if (m.remove_keyboard === true) return { kind: 'remove' };
  if (m.force_reply === true) return { kind: 'force_reply' };
  throw badRequest(CANT_PARSE);
}

function validateInline(rows: unknown): InlineKeyboardMarkup {
  if (!Array.isArray(rows) || !rows.every(Array.isArray))
    throw badRequest('field "inline_keyboard" must be an Array');
  for (const row of rows as unknown[][]) {
    for (const button of row) {
      if (typeof button !== 'object' || button === null)
        throw badRequest("can't parse inline keyboard button: InlineKeyboardButton must be an Object");
      const b = button as Record<string, unknown>;
      if (typeof b.text !== 'string')
        throw badRequest('can\'t parse inline keyboard button: Can\'t find field "text"');
      if (b.text.trim() === '') throw badRequest('BUTTON_TEXT_INVALID');
      const actions = INLINE_ACTIONS.filter((a) => b[a] !== undefined);
      if (actions.length !== 1) throw badRequest('text buttons are unallowed in the inline keyboard');
      if (b.callback_data !== undefined) {
        const size = typeof b.callback_data === 'string' ? Buffer.byteLength(b.callback_data) : 0;
        if (size < 1 || size > 64) throw badRequest('BUTTON_DATA_INVALID');
      }
      if (b.url !== undefined && !isButtonUrl(b.url)) {
        throw badRequest(`inline keyboard button URL '${String(b.url)}' is invalid: Wrong HTTP URL`);
      }
    }
  }
  return { inline_keyboard: rows as InlineKeyboardMarkup['inline_keyboard'] };
}

function isButtonUrl(url: unknown): boolean {
  if (typeof url !== 'string') return false;
  try {
    const u = new URL(url);
    return ['http:', 'https:', 'tg:'].includes(u.protocol) && (u.protocol === 'tg:' || u.hostname !== '');
  } catch {
    return false;
  }
}

/** Deep equality of two JSON values, for "message is not modified". */
export function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(normalize(a)) === JSON.stringify(normalize(b));
}

function normalize(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalize);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>)
        .filter(([, x]) => x !== undefined)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, x]) => [k, normalize(x)]),
    );
  }
  return v;
}
