import type { MessageEntity as GrammyMessageEntity } from 'grammy/types';
import {
  closeEntity,
  finishEntities,
  type OpenTag,
  type RawEntity,
  toInt32Lenient,
} from './telegram-entities.js';
import { TelegramHtmlError } from './telegram-html-error.js';

export { TelegramHtmlError } from './telegram-html-error.js';

/** A Bot API message entity; the same type grammY uses. */
export type MessageEntity = GrammyMessageEntity;

/** Text and entities of a message after Telegram has applied `parse_mode: "HTML"`. */
export interface ParsedTelegramHtml {
  text: string;
  entities: MessageEntity[];
}

/**
 * One piece of Telegram HTML as the parser saw it. A `text` token is one character of the resulting
 * text (a whole surrogate pair, or one HTML entity such as `&amp;`), so every token boundary is a
 * place where the HTML can be cut without breaking an entity, a tag or a surrogate pair.
 */
export type HtmlToken =
  | { kind: 'text'; raw: string; text: string }
  | { kind: 'open'; raw: string; name: string }
  | { kind: 'close'; raw: string; name: string };

const TAGS = new Set([
  'a',
  'b',
  'strong',
  'i',
  'em',
  's',
  'strike',
  'del',
  'u',
  'ins',
  'tg-spoiler',
  'tg-emoji',
  'tg-time',
  'span',
  'pre',
  'code',
  'blockquote',
]);

const AMP = 0x26;
const LT = 0x3c;
const GT = 0x3e;
const SLASH = 0x2f;
const EQ = 0x3d;
const DQ = 0x22;
const SQ = 0x27;
const SEMI = 0x3b;
const HASH = 0x23;

// tdlib treats NUL as space; the end of the input reads as NUL, which is what its C string gives it.
function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0b || c === 0;
}
function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
function isAlpha(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}
function isHexDigit(c: number): boolean {
  return isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}
function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

interface DecodedEntity {
  code: number;
  end: number;
}

/** tdlib's decode_html_entity: anything it does not know stays literal text instead of failing. */
function decodeEntity(s: string, pos: number): DecodedEntity | undefined {
  const at = (i: number) => (i < s.length ? s.charCodeAt(i) : 0);
  let end = pos + 1;
  let code = 0;
  if (at(pos + 1) === HASH) {
    end++;
    if (at(pos + 2) === 0x78 /* x */) {
      end++;
      while (isHexDigit(at(end))) code = code * 16 + Number.parseInt(s[end++]!, 16);
    } else {
      while (isDigit(at(end))) code = code * 10 + (at(end++) - 0x30);
    }
    if (code === 0 || code >= 0x10ffff || end - pos >= 10) return undefined;
  } else {
    while (isAlpha(at(end))) end++;
    const name = s.slice(pos + 1, end);
    if (name === 'lt') code = LT;
    else if (name === 'gt') code = GT;
    else if (name === 'amp') code = AMP;
    else if (name === 'quot') code = DQ;
    else return undefined;
  }
  if (at(end) === SEMI) end++;
  return { code, end };
}

function codeToString(code: number): string {
  // A surrogate code point cannot go through fromCodePoint's pairing; the caller rejects it later.
  return code >= 0xd800 && code <= 0xdfff ? String.fromCharCode(code) : String.fromCodePoint(code);
}

/** Telegram's HTML parser (tdlib's parse_html), optionally recording the tokens it saw. */
function scan(html: string, tokens?: HtmlToken[]): ParsedTelegramHtml {
  if (LONE_SURROGATE.test(html)) {
    throw new TelegramHtmlError('strings must be encoded in UTF-8', {
      description: 'Bad Request: strings must be encoded in UTF-8',
    });
  }
  if (html.includes('\0')) throw new TelegramHtmlError('Text must not contain null bytes');
  const n = html.length;
  const at = (i: number) => (i < n ? html.charCodeAt(i) : 0);
  const byteOffset = (i: number) => Buffer.byteLength(html.slice(0, i), 'utf8');
  const fail = (reason: string): never => {
    throw new TelegramHtmlError(reason);
  };

  let text = '';
  const raw: RawEntity[] = [];
  const stack: OpenTag[] = [];
  let hasSurrogateEntity = false;

  for (let i = 0; i < n; i++) {
    const c = html.charCodeAt(i);
    if (c === AMP) {
      const decoded = decodeEntity(html, i);
      if (decoded) {
        const ch = codeToString(decoded.code);
        if (decoded.code >= 0xd800 && decoded.code <= 0xdfff) hasSurrogateEntity = true;
        text += ch;
        tokens?.push({ kind: 'text', raw: html.slice(i, decoded.end), text: ch });
        i = decoded.end - 1;
        continue;
      }
    }
    if (c !== LT) {
      const end = c >= 0xd800 && c <= 0xdbff ? i + 2 : i + 1;
      const ch = html.slice(i, end);
      text += ch;
      tokens?.push({ kind: 'text', raw: ch, text: ch });
      i = end - 1;
      continue;
    }

    const begin = i++;
    if (at(i) !== SLASH) {
      while (!isSpace(at(i)) && at(i) !== GT) i++;
      if (i >= n) fail(`Unclosed start tag at byte offset ${byteOffset(begin)}`);
      const name = asciiLower(html.slice(begin + 1, i));
      if (!TAGS.has(name)) fail(`Unsupported start tag "${name}" at byte offset ${byteOffset(begin)}`);

      let argument = '';
      let date = 0;
      while (at(i) !== GT) {
        while (i < n && isSpace(at(i))) i++;
        if (at(i) === GT) break;
        const attrBegin = i;
        while (
          !isSpace(at(i)) &&
          at(i) !== EQ &&
          at(i) !== GT &&
          at(i) !== SLASH &&
          at(i) !== DQ &&
          at(i) !== SQ
        ) {
          i++;
        }
        const attr = html.slice(attrBegin, i);
        if (attr === '')
          fail(`Empty attribute name in the tag "${name}" at byte offset ${byteOffset(begin)}`);
        while (i < n && isSpace(at(i))) i++;
        if (at(i) !== EQ) {
          if (i >= n) fail(`Unclosed start tag "${name}" at byte offset ${byteOffset(begin)}`);
          if (name === 'blockquote' && attr === 'expandable') argument = '1';
          continue;
        }
        i++;
        while (i < n && isSpace(at(i))) i++;
        if (i >= n) fail(`Unclosed start tag "${name}" at byte offset ${byteOffset(begin)}`);

        let value = '';
        if (at(i) !== SQ && at(i) !== DQ) {
          // An unquoted value is an SGML name token: letters, digits, periods and hyphens.
          const tokenBegin = i;
          while (isAlpha(at(i)) || isDigit(at(i)) || at(i) === 0x2e || at(i) === 0x2d) i++;
          value = asciiLower(html.slice(tokenBegin, i));
          if (!isSpace(at(i)) && at(i) !== GT) {
            fail(`Unexpected end of name token at byte offset ${byteOffset(tokenBegin)}`);
          }
        } else {
          const quote = at(i++);
          while (i < n && at(i) !== quote) {
            if (at(i) === AMP) {
              const decoded = decodeEntity(html, i);
              if (decoded) {
                value += codeToString(decoded.code);
                i = decoded.end;
                continue;
              }
            }
            value += html[i++];
          }
          if (at(i) === quote) i++;
        }
        if (i >= n) fail(`Unclosed start tag at byte offset ${byteOffset(begin)}`);

        if (name === 'a' && attr === 'href') argument = value;
        else if (name === 'code' && attr === 'class' && value.startsWith('language-'))
          argument = value.slice(9);
        else if (name === 'span' && attr === 'class' && value.startsWith('tg-')) argument = value.slice(3);
        else if (name === 'tg-emoji' && attr === 'emoji-id') argument = value;
        else if (name === 'blockquote' && attr === 'expandable') argument = '1';
        else if (name === 'tg-time' && attr === 'unix') date = toInt32Lenient(value);
        else if (name === 'tg-time' && attr === 'format') argument = value;
      }
      if (name === 'span' && argument !== 'spoiler') {
        fail(`Tag "span" must have class "tg-spoiler" at byte offset ${byteOffset(begin)}`);
      }
      stack.push({ name, argument, date, offset: text.length });
      tokens?.push({ kind: 'open', raw: html.slice(begin, i + 1), name });
    } else {
      const top = stack.at(-1);
      if (top === undefined) return fail(`Unexpected end tag at byte offset ${byteOffset(begin)}`);
      while (!isSpace(at(i)) && at(i) !== GT) i++;
      const endName = asciiLower(html.slice(begin + 2, i));
      while (i < n && isSpace(at(i))) i++;
      if (at(i) !== GT) fail(`Unclosed end tag at byte offset ${byteOffset(begin)}`);
      if (endName !== '' && endName !== top.name) {
        fail(
          `Unmatched end tag at byte offset ${byteOffset(begin)}, expected "</${top.name}>", found "</${endName}>"`,
        );
      }
      if (text.length > top.offset) closeEntity(top, text, text.length, raw);
      stack.pop();
      tokens?.push({ kind: 'close', raw: html.slice(begin, i + 1), name: top.name });
    }
  }
  const open = stack.at(-1);
  if (open) fail(`Can't find end tag corresponding to start tag "${open.name}"`);
  if (hasSurrogateEntity) {
    fail(
      'Text contains invalid Unicode characters after decoding HTML entities, check for unmatched surrogate code units',
    );
  }
  return { text, entities: finishEntities(raw) };
}

/**
 * Applies Telegram's `parse_mode: "HTML"` exactly as the Bot API does (it is tdlib's parser): the
 * resulting text and its entities, with offsets and lengths in UTF-16 code units.
 * Unknown named entities (`&nbsp;`) and a stray `&` stay literal text, as in Telegram; links with
 * an unsupported scheme silently lose their entity.
 * @throws TelegramHtmlError with the Bot API's description when Telegram would refuse the text.
 */
export function parseTelegramHtml(html: string): ParsedTelegramHtml {
  return scan(html);
}

/**
 * The tokens of valid Telegram HTML, in order (see {@link HtmlToken}).
 * @throws TelegramHtmlError like {@link parseTelegramHtml}.
 */
export function tokenizeTelegramHtml(html: string): HtmlToken[] {
  const tokens: HtmlToken[] = [];
  scan(html, tokens);
  return tokens;
}

/**
 * Whether Telegram would accept the HTML as a message text: it must parse, must not be empty after
 * Telegram trims it and, when `maxLength` is given, must not be longer (UTF-16 units of parsed text).
 */
export function validateTelegramHtml(
  html: string,
  opts: { maxLength?: number } = {},
): { ok: true; length: number } | { ok: false; error: string } {
  let parsed: ParsedTelegramHtml;
  try {
    parsed = scan(html);
  } catch (err) {
    if (err instanceof TelegramHtmlError) return { ok: false, error: err.description };
    throw err;
  }
  if (parsed.text.trim() === '') return { ok: false, error: 'Bad Request: message text is empty' };
  const length = parsed.text.length;
  if (opts.maxLength !== undefined && length > opts.maxLength) {
    return { ok: false, error: 'Bad Request: message is too long' };
  }
  return { ok: true, length };
}

/**
 * Length of the text Telegram will show, in UTF-16 code units (what its 4096 limit counts).
 * @throws TelegramHtmlError when the HTML is not valid.
 */
export function telegramTextLength(html: string): number {
  return scan(html).text.length;
}

/**
 * The text without markup, for a plain-text fallback. Never throws: HTML Telegram would refuse is
 * stripped leniently (anything tag-like removed, the four named and all numeric entities decoded).
 */
export function htmlToPlainText(html: string): string {
  try {
    return scan(html).text;
  } catch {
    return html
      .replace(/<\/?[a-zA-Z][a-zA-Z0-9-]*(?:\s[^<>]*)?>/g, '')
      .replace(/&(#x[0-9a-fA-F]{1,6}|#\d{1,7}|lt|gt|amp|quot);?/g, (m: string, body: string) => {
        if (body === 'lt') return '<';
        if (body === 'gt') return '>';
        if (body === 'amp') return '&';
        if (body === 'quot') return '"';
        const code = body.startsWith('#x') ? Number.parseInt(body.slice(2), 16) : Number(body.slice(1));
        return code > 0 && code < 0x10ffff && (code < 0xd800 || code > 0xdfff)
          ? String.fromCodePoint(code)
          : m;
      });
  }
}

/** Escapes text for Telegram HTML (text content and quoted attribute values). */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&quot;',
  );
}
