/**
 * How tdlib's HTML parser turns closed tags into entities, and the clean-up the Bot API applies
 * before answering. Internal to telegram-html.ts.
 */
import type { MessageEntity } from 'grammy/types';
import { TelegramHtmlError } from './telegram-html-error.js';

// tdlib's sort order for entities that start at the same offset with the same length.
const PRIORITY: Record<string, number> = {
  blockquote: 0,
  expandable_blockquote: 0,
  pre: 11,
  code: 20,
  text_link: 49,
  bold: 90,
  italic: 91,
  underline: 92,
  strikethrough: 93,
  spoiler: 94,
  date_time: 95,
  custom_emoji: 99,
};

/** A start tag waiting for its end tag; `offset` is where its text starts (UTF-16). */
export interface OpenTag {
  name: string;
  argument: string;
  date: number;
  offset: number;
}

/** An entity as tdlib builds it, before the Bot API shape; `argument` is URL, language or id. */
export interface RawEntity {
  type: string;
  offset: number;
  length: number;
  argument: string;
  date?: number;
}

const HTTP_URL = /^(https?):\/\/(?:([^/?#@]*)@)?([^/?#:@]+)(:\d{1,5})?([/?#].*)?$/i;
const HOST = /^(?:[\p{L}\p{N}_-]+(?:\.[\p{L}\p{N}_-]+)*\.?|\[[0-9a-fA-F:.]+\])$/u;

/**
 * tdlib's check_link, simplified: http(s) links (a missing scheme means http) get Telegram's
 * normalisation (lowercase scheme and host, `/` for an empty path); tg:, ton: and mailto: pass;
 * anything else (javascript:, links with spaces) is not a link, so the entity is dropped.
 */
function checkLink(link: string): string {
  if (link === '' || /\s/.test(link)) return '';
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):(?!\d)/.exec(link)?.[1]?.toLowerCase();
  if (scheme === 'tg' || scheme === 'ton') {
    const rest = link.slice(scheme.length + 1).replace(/^\/\//, '');
    return rest === '' ? '' : `${scheme}://${rest}`;
  }
  if (scheme === 'mailto') return /^[^@]+@[^@]+$/.test(link.slice(7)) ? `mailto:${link.slice(7)}` : '';
  if (scheme !== undefined && scheme !== 'http' && scheme !== 'https') return '';
  const m = HTTP_URL.exec(scheme === undefined ? `http://${link}` : link);
  if (!m || !HOST.test(m[3]!)) return '';
  const [, proto, user, host, port = '', rest = ''] = m;
  const tail = rest.startsWith('/') ? rest : `/${rest}`;
  return `${proto!.toLowerCase()}://${user === undefined ? '' : `${user}@`}${host!.toLowerCase()}${port}${tail}`;
}

const DATE_FORMAT = /^(r|w?[dD]?[tT]?)$/;

function isDateTimeFormat(s: string): s is Extract<MessageEntity, { type: 'date_time' }>['date_time_format'] {
  return DATE_FORMAT.test(s);
}

/** tdlib's to_integer<int32>: leading digits, wrapping on overflow, 0 for garbage. */
export function toInt32Lenient(s: string): number {
  const m = /^-?\d+/.exec(s);
  return m ? Number(BigInt.asIntN(32, BigInt(m[0]))) : 0;
}

function isValidEmojiId(s: string): boolean {
  if (!/^-?\d+$/.test(s)) return false;
  const n = BigInt(s);
  return n !== 0n && n >= -(2n ** 63n) && n < 2n ** 63n;
}

const SIMPLE_TYPES: Record<string, string> = {
  i: 'italic',
  em: 'italic',
  b: 'bold',
  strong: 'bold',
  s: 'strikethrough',
  strike: 'strikethrough',
  del: 'strikethrough',
  u: 'underline',
  ins: 'underline',
  'tg-spoiler': 'spoiler',
  span: 'spoiler',
};

/** Adds the entity of a closed tag the way tdlib does, merging `<pre>` and `<code class>` pairs. */
export function closeEntity(tag: OpenTag, text: string, end: number, entities: RawEntity[]): void {
  const offset = tag.offset;
  const length = end - offset;
  const last = entities.at(-1);
  const sameSpan = last !== undefined && last.offset === offset && last.length === length;
  const simple = SIMPLE_TYPES[tag.name];
  if (simple !== undefined) {
    entities.push({ type: simple, offset, length, argument: '' });
  } else if (tag.name === 'tg-emoji') {
    if (!isValidEmojiId(tag.argument))
      throw new TelegramHtmlError('Invalid custom emoji identifier specified');
    entities.push({ type: 'custom_emoji', offset, length, argument: tag.argument });
  } else if (tag.name === 'tg-time') {
    if (!isDateTimeFormat(tag.argument)) throw new TelegramHtmlError('Invalid date format specified');
    if (tag.date > 0)
      entities.push({ type: 'date_time', offset, length, argument: tag.argument, date: tag.date });
  } else if (tag.name === 'a') {
    const url = checkLink(tag.argument === '' ? text.slice(offset, end) : tag.argument);
    if (url !== '') entities.push({ type: 'text_link', offset, length, argument: url });
  } else if (tag.name === 'pre') {
    if (sameSpan && last.type === 'code' && last.argument !== '') last.type = 'pre';
    else entities.push({ type: 'pre', offset, length, argument: '' });
  } else if (tag.name === 'code') {
    if (sameSpan && last.type === 'pre' && tag.argument !== '') last.argument = tag.argument;
    else entities.push({ type: 'code', offset, length, argument: tag.argument });
  } else if (tag.name === 'blockquote') {
    entities.push({
      type: tag.argument === '' ? 'blockquote' : 'expandable_blockquote',
      offset,
      length,
      argument: '',
    });
  }
}

function toMessageEntity(e: RawEntity): MessageEntity {
  const { offset, length } = e;
  switch (e.type) {
    case 'pre':
      return e.argument === ''
        ? { type: 'pre', offset, length }
        : { type: 'pre', offset, length, language: e.argument };
    case 'text_link':
      return { type: 'text_link', offset, length, url: e.argument };
    case 'custom_emoji':
      return { type: 'custom_emoji', offset, length, custom_emoji_id: e.argument };
    case 'date_time':
      return {
        type: 'date_time',
        offset,
        length,
        unix_time: e.date ?? 0,
        date_time_format: isDateTimeFormat(e.argument) ? e.argument : '',
      };
    default:
      return { type: e.type as Extract<MessageEntity, { type: 'bold' }>['type'], offset, length };
  }
}

function contains(outer: RawEntity, inner: RawEntity): boolean {
  return outer.offset <= inner.offset && inner.offset + inner.length <= outer.offset + outer.length;
}

/** Drops formatting inside code blocks, sorts like tdlib and converts to Bot API entities. */
export function finishEntities(raw: RawEntity[]): MessageEntity[] {
  // Telegram drops formatting nested inside code and pre blocks (of two blocks on the same span it
  // keeps the pre, or the outer one).
  const blocks = raw
    .map((e, index) => ({ e, index }))
    .filter(({ e }) => e.type === 'pre' || e.type === 'code');
  const kept = raw.filter((e, index) => {
    if (e.type === 'blockquote' || e.type === 'expandable_blockquote') return true;
    return !blocks.some(({ e: b, index: bi }) => {
      if (b === e || !contains(b, e)) return false;
      if (b.length !== e.length) return true;
      if (e.type === 'code' && b.type === 'pre') return true;
      return e.type === b.type && bi > index;
    });
  });
  const priority = (e: RawEntity) => (e.type === 'pre' && e.argument !== '' ? 10 : (PRIORITY[e.type] ?? 50));
  kept.sort((a, b) => a.offset - b.offset || b.length - a.length || priority(a) - priority(b));
  return kept.map(toMessageEntity);
}
