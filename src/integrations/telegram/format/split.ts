import { escapeHtml, type HtmlToken, tokenizeTelegramHtml } from './telegram-html.js';

/** Telegram's limit for a message text, in UTF-16 code units of the parsed text. */
export const TELEGRAM_MESSAGE_LIMIT = 4096;

// A weaker boundary (a line break instead of a blank line) is preferred over a stronger one that
// would leave a chunk shorter than this share of the limit.
const MIN_FILL = 0.3;

interface Cut {
  /** End of this chunk (exclusive). */
  end: number;
  /** Start of the next chunk: whitespace between `end` and `next` is dropped. */
  next: number;
}

function isBlank(c: string | undefined): boolean {
  return c === ' ' || c === '\t';
}

function isParagraphBreak(text: string, p: number): boolean {
  if (text[p] !== '\n') return false;
  let j = p + 1;
  while (isBlank(text[j])) j++;
  return text[j] === '\n';
}

const BOUNDARIES: ((text: string, p: number) => boolean)[] = [
  isParagraphBreak,
  (text, p) => text[p] === '\n',
  (text, p) => isBlank(text[p]) || text[p] === '\n',
];

function isLowSurrogate(text: string, p: number): boolean {
  const c = text.charCodeAt(p);
  return c >= 0xdc00 && c <= 0xdfff;
}

/** Where to end the chunk that starts at `start`, or undefined when the rest fits. */
function findCut(text: string, start: number, limit: number): Cut | undefined {
  if (text.length - start <= limit) return undefined;
  const max = start + limit;
  const withBoundary = (p: number): Cut => {
    let end = p;
    while (end > start && /\s/.test(text[end - 1]!)) end--;
    let next = p;
    while (next < text.length && /\s/.test(text[next]!)) next++;
    return { end, next };
  };
  const floor = start + Math.floor(limit * MIN_FILL);
  for (const isBoundary of BOUNDARIES) {
    for (let p = max; p > floor; p--) if (isBoundary(text, p)) return withBoundary(p);
  }
  for (let p = floor; p > start; p--) if (/\s/.test(text[p]!)) return withBoundary(p);
  // No whitespace at all: a hard cut, moved back off the middle of a surrogate pair.
  const end = isLowSurrogate(text, max) ? max - 1 : max;
  return { end, next: end };
}

function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 2)
    throw new RangeError(`limit must be an integer ≥ 2, got ${limit}`);
}

/**
 * Splits plain text into chunks of at most `limit` UTF-16 code units, cutting at a blank line, else
 * a line break, else a space, else anywhere but inside a surrogate pair. Whitespace at the cuts is
 * dropped; chunks that would be only whitespace are left out.
 */
export function splitPlainText(text: string, limit = TELEGRAM_MESSAGE_LIMIT): string[] {
  checkLimit(limit);
  const chunks: string[] = [];
  let start = 0;
  while (start < text.length) {
    const cut = findCut(text, start, limit);
    const end = cut?.end ?? text.length;
    const chunk = text.slice(start, end);
    if (chunk.trim() !== '') chunks.push(chunk);
    if (!cut) break;
    start = cut.next;
  }
  return chunks;
}

interface OpenTag {
  raw: string;
  name: string;
}

/**
 * Splits valid Telegram HTML into messages whose parsed text is at most `limit` UTF-16 code units,
 * with the same preference for boundaries as {@link splitPlainText}. Each chunk is valid on its own:
 * tags open at a cut are closed at the end of the chunk and reopened, with the same attributes, at
 * the start of the next. HTML that already fits is returned as it is.
 * @throws TelegramHtmlError when the HTML is not valid Telegram HTML.
 */
export function splitTelegramHtml(html: string, limit = TELEGRAM_MESSAGE_LIMIT): string[] {
  checkLimit(limit);
  const tokens = tokenizeTelegramHtml(html);
  // textAt[k] is the index in `tokens` of the text token that starts at plain-text offset k.
  const textAt = new Map<number, number>();
  let text = '';
  tokens.forEach((token, index) => {
    if (token.kind !== 'text') return;
    textAt.set(text.length, index);
    text += token.text;
  });
  if (text.length <= limit) return [html];

  const chunks: string[] = [];
  const stack: OpenTag[] = [];
  let index = 0;
  let start = 0;
  const apply = (token: HtmlToken) => {
    if (token.kind === 'open') stack.push({ raw: token.raw, name: token.name });
    else if (token.kind === 'close') stack.pop();
  };
  while (index < tokens.length) {
    const cut = findCut(text, start, limit);
    const endIndex = cut ? (textAt.get(cut.end) ?? tokens.length) : tokens.length;
    let body = stack.map((t) => t.raw).join('');
    let hasText = false;
    for (; index < endIndex; index++) {
      const token = tokens[index]!;
      apply(token);
      if (token.kind === 'text') {
        body += escapeHtml(token.text);
        hasText ||= token.text.trim() !== '';
      } else {
        body += token.raw;
      }
    }
    if (!cut) {
      if (hasText) chunks.push(body);
      break;
    }
    // Tags between the cut and the next chunk's first character only change what is open.
    const nextIndex = textAt.get(cut.next) ?? tokens.length;
    const closing = [...stack].reverse().map((t) => `</${t.name}>`);
    if (hasText) chunks.push(body + closing.join(''));
    for (; index < nextIndex; index++) apply(tokens[index]!);
    start = cut.next;
  }
  return chunks;
}
