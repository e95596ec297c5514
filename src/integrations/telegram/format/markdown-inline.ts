/**
 * Inline Markdown (emphasis, code spans, links) → Telegram HTML. Tags are only ever written as
 * complete pairs around content that is itself balanced, and every other character is escaped, so
 * the output is valid Telegram HTML whatever the input.
 */

const LINK_SCHEME = /^(?:https?:\/\/|tg:\/\/|mailto:)/i;
const BARE_URL = /^(?:https?:\/\/|tg:\/\/)[^\s<>]+/i;
const AUTOLINK = /^<((?:https?:\/\/|tg:\/\/|mailto:)[^\s<>]*)>/i;
const LINE_BREAK_TAG = /^<br\s*\/?>/i;
const ASCII_PUNCTUATION = /^[!-/:-@[-`{-~]$/;
const WHITESPACE = /^\s$/u;
const PUNCTUATION = /^[\p{P}\p{S}]$/u;

/** Escapes `&`, `<` and `>` for Telegram HTML text content. */
export function escapeText(text: string): string {
  return text.replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'));
}

/** Escapes text for a double-quoted Telegram HTML attribute value. */
export function escapeAttribute(text: string): string {
  return escapeText(text).replace(/"/g, '&quot;');
}

/** Whether a link target is one Telegram turns into a clickable text link. */
export function isAllowedLink(url: string): boolean {
  return LINK_SCHEME.test(url) && !/\s/.test(url);
}

interface Frame {
  ch: string;
  count: number;
  parts: string[];
}

type Flanking = { canOpen: boolean; canClose: boolean };

function charBefore(s: string, i: number): string {
  if (i <= 0) return '';
  const c = s.charCodeAt(i - 1);
  return c >= 0xdc00 && c <= 0xdfff && i >= 2 ? s.slice(i - 2, i) : s.charAt(i - 1);
}

function charAt(s: string, i: number): string {
  if (i >= s.length) return '';
  return String.fromCodePoint(s.codePointAt(i) ?? 0);
}

/** CommonMark's flanking rules; `_` must not open or close inside a word (snake_case_names). */
function flanking(ch: string, before: string, after: string): Flanking {
  const beforeSpace = before === '' || WHITESPACE.test(before);
  const afterSpace = after === '' || WHITESPACE.test(after);
  const beforePunct = before !== '' && PUNCTUATION.test(before);
  const afterPunct = after !== '' && PUNCTUATION.test(after);
  const left = !afterSpace && (!afterPunct || beforeSpace || beforePunct);
  const right = !beforeSpace && (!beforePunct || afterSpace || afterPunct);
  if (ch === '_')
    return { canOpen: left && (!right || beforePunct), canClose: right && (!left || afterPunct) };
  return { canOpen: left, canClose: right };
}

const TAG_FOR: Record<string, string> = { '~': 's', '|': 'tg-spoiler' };

class InlineRenderer {
  private readonly frames: Frame[] = [{ ch: '', count: 0, parts: [] }];

  private get top(): Frame {
    return this.frames[this.frames.length - 1]!;
  }

  push(html: string): void {
    this.top.parts.push(html);
  }

  delimiter(ch: string, count: number, { canOpen, canClose }: Flanking): void {
    let remaining = count;
    while (canClose && remaining > 0) {
      let k = this.frames.length - 1;
      while (k > 0 && this.frames[k]!.ch !== ch) k--;
      if (k === 0) break;
      this.collapseAbove(k);
      const opener = this.top;
      const use = ch === '*' || ch === '_' ? (remaining >= 2 && opener.count >= 2 ? 2 : 1) : 2;
      const tag = TAG_FOR[ch] ?? (use === 2 ? 'b' : 'i');
      const html = `<${tag}>${opener.parts.join('')}</${tag}>`;
      opener.count -= use;
      remaining -= use;
      if (opener.count === 0) {
        this.frames.pop();
        this.push(html);
      } else {
        opener.parts = [html];
      }
    }
    if (remaining === 0) return;
    if (canOpen) this.frames.push({ ch, count: remaining, parts: [] });
    else this.push(escapeText(ch.repeat(remaining)));
  }

  /** Openers above frame `k` that never found their closer are just text. */
  private collapseAbove(k: number): void {
    if (this.frames.length - 1 === k) return;
    const literal = this.frames
      .slice(k + 1)
      .map((f) => escapeText(f.ch.repeat(f.count)) + f.parts.join(''))
      .join('');
    this.frames.length = k + 1;
    this.push(literal);
  }

  finish(): string {
    this.collapseAbove(0);
    return this.top.parts.join('');
  }
}

interface LinkMatch {
  label: string;
  url: string;
  end: number;
}

/** For each `[`, the index of its matching `]`; one pass, so stray brackets cost nothing. */
function matchBrackets(s: string): Map<number, number> {
  const pairs = new Map<number, number>();
  const open: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') i++;
    else if (c === '[') open.push(i);
    else if (c === ']' && open.length > 0) pairs.set(open.pop()!, i);
  }
  return pairs;
}

/** `[label](url "title")` starting at `start` (the `[`), or undefined. */
function matchLink(s: string, start: number, brackets: Map<number, number>): LinkMatch | undefined {
  const i = brackets.get(start) ?? s.length;
  if (i >= s.length || s[i + 1] !== '(') return undefined;
  const label = s.slice(start + 1, i);
  let j = i + 2;
  while (s[j] === ' ') j++;
  let url: string;
  if (s[j] === '<') {
    const close = s.indexOf('>', j);
    if (close < 0 || s.slice(j, close).includes('\n')) return undefined;
    url = s.slice(j + 1, close);
    j = close + 1;
  } else {
    const urlStart = j;
    let parens = 0;
    for (; j < s.length; j++) {
      const c = s[j]!;
      if (/\s/.test(c)) break;
      if (c === '(') parens++;
      else if (c === ')' && parens-- === 0) break;
    }
    url = s.slice(urlStart, j);
  }
  while (s[j] === ' ') j++;
  const quote = s[j];
  if (quote === '"' || quote === "'") {
    const close = s.indexOf(quote, j + 1);
    if (close < 0) return undefined;
    j = close + 1;
    while (s[j] === ' ') j++;
  }
  if (s[j] !== ')') return undefined;
  return { label, url, end: j + 1 };
}

function trimUrl(url: string): string {
  let end = url.length;
  for (;;) {
    const c = url[end - 1];
    if (c === undefined) break;
    if ('.,:;!?*_~|\'"'.includes(c)) end--;
    else if (
      c === ')' &&
      (url.slice(0, end).match(/\(/g)?.length ?? 0) < (url.slice(0, end).match(/\)/g)?.length ?? 0)
    )
      end--;
    else break;
  }
  return url.slice(0, end);
}

/**
 * Renders one paragraph (or heading, list item, cell) of inline Markdown to Telegram HTML.
 * `links: false` renders link labels without nesting other links in them.
 */
export function renderInline(s: string, links = true): string {
  const out = new InlineRenderer();
  let brackets: Map<number, number> | undefined;
  let text = '';
  const flush = () => {
    if (text !== '') out.push(escapeText(text));
    text = '';
  };
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length && ASCII_PUNCTUATION.test(s[i + 1]!)) {
      text += s[i + 1];
      i += 2;
      continue;
    }
    if (c === '`') {
      let n = 1;
      while (s[i + n] === '`') n++;
      const close = findBacktickRun(s, i + n, n);
      if (close < 0) {
        text += '`'.repeat(n);
        i += n;
        continue;
      }
      let code = s.slice(i + n, close).replace(/\n/g, ' ');
      if (code.length > 2 && code.startsWith(' ') && code.endsWith(' ') && code.trim() !== '') {
        code = code.slice(1, -1);
      }
      flush();
      out.push(`<code>${escapeText(code)}</code>`);
      i = close + n;
      continue;
    }
    if (links && (c === '[' || (c === '!' && s[i + 1] === '['))) {
      const isImage = c === '!';
      brackets ??= matchBrackets(s);
      const link = matchLink(s, isImage ? i + 1 : i, brackets);
      if (link) {
        flush();
        const label = renderInline(link.label, false) || escapeText(isImage ? 'image' : link.url);
        out.push(isAllowedLink(link.url) ? `<a href="${escapeAttribute(link.url)}">${label}</a>` : label);
        i = link.end;
        continue;
      }
    }
    if (c === '<') {
      const auto = links ? AUTOLINK.exec(s.slice(i, i + 2048)) : null;
      if (auto) {
        flush();
        out.push(`<a href="${escapeAttribute(auto[1]!)}">${escapeText(auto[1]!)}</a>`);
        i += auto[0].length;
        continue;
      }
      const br = LINE_BREAK_TAG.exec(s.slice(i, i + 8));
      if (br) {
        text += '\n';
        i += br[0].length;
        continue;
      }
    }
    if ((c === 'h' || c === 'H' || c === 't' || c === 'T') && !/[\p{L}\p{N}]/u.test(charBefore(s, i))) {
      const bare = BARE_URL.exec(s.slice(i, i + 4096));
      if (bare) {
        // Telegram links bare URLs itself; keeping them literal stops `_` or `*` in them from
        // being read as emphasis.
        const url = trimUrl(bare[0]);
        text += url;
        i += url.length;
        continue;
      }
    }
    if (c === '*' || c === '_' || c === '~' || c === '|') {
      let n = 1;
      while (s[i + n] === c) n++;
      const paired = c === '~' || c === '|';
      if (paired && n !== 2) {
        text += c.repeat(n);
        i += n;
        continue;
      }
      flush();
      out.delimiter(c, n, flanking(c, charBefore(s, i), charAt(s, i + n)));
      i += n;
      continue;
    }
    text += c;
    i++;
  }
  flush();
  return out.finish();
}

function findBacktickRun(s: string, from: number, length: number): number {
  let i = s.indexOf('`', from);
  while (i >= 0) {
    let n = 1;
    while (s[i + n] === '`') n++;
    if (n === length) return i;
    i = s.indexOf('`', i + n);
  }
  return -1;
}
