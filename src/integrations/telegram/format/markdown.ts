import { escapeAttribute, escapeText, renderInline } from './markdown-inline.js';
import { parseTelegramHtml } from './telegram-html.js';

const FENCE_OPEN = /^(\s*)(`{3,}|~{3,})[ \t]*([^\s`]*)[^`]*$/;
const HEADING = /^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/;
const EMPTY_HEADING = /^ {0,3}#{1,6}[ \t]*$/;
const RULE = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const QUOTE = /^ {0,3}>/;
const BULLET = /^([ \t]*)[-*+•][ \t]+(.*)$/;
const ORDERED = /^([ \t]*)(\d{1,9})([.)])[ \t]+(.*)$/;
const TABLE_SEPARATOR = /^[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$/;
const TASK = /^\[([ xX])\][ \t]+/;
const RULE_TEXT = '──────────';
const BULLETS = ['•', '◦', '▪'];
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function indentWidth(ws: string): number {
  let width = 0;
  for (const c of ws) width += c === '\t' ? 4 - (width % 4) : 1;
  return width;
}

function isTableStart(lines: string[], i: number): boolean {
  const header = lines[i]!;
  const separator = lines[i + 1];
  return (
    separator !== undefined &&
    header.includes('|') &&
    TABLE_SEPARATOR.test(separator) &&
    (separator.includes('|') || header.trim().startsWith('|'))
  );
}

function startsBlock(lines: string[], i: number): boolean {
  const line = lines[i]!;
  return (
    line.trim() === '' ||
    FENCE_OPEN.test(line) ||
    HEADING.test(line) ||
    EMPTY_HEADING.test(line) ||
    RULE.test(line) ||
    QUOTE.test(line) ||
    BULLET.test(line) ||
    ORDERED.test(line) ||
    isTableStart(lines, i)
  );
}

function renderFence(lines: string[], start: number): { html: string; end: number } {
  const [, indent = '', fence = '```', info = ''] = FENCE_OPEN.exec(lines[start]!)!;
  const strip = indentWidth(indent);
  const body: string[] = [];
  let i = start + 1;
  for (; i < lines.length; i++) {
    const line = lines[i]!;
    const close = /^\s*(`{3,}|~{3,})\s*$/.exec(line);
    if (close && close[1]![0] === fence[0] && close[1]!.length >= fence.length) {
      i++;
      break;
    }
    const lead = /^[ \t]*/.exec(line)![0];
    body.push(
      indentWidth(lead) <= strip ? line.slice(lead.length) : line.slice(Math.min(strip, lead.length)),
    );
  }
  const code = escapeText(body.join('\n'));
  const language = info.replace(/[^\w+#.-]/g, '').slice(0, 32);
  const html = language
    ? `<pre><code class="language-${escapeAttribute(language)}">${code}</code></pre>`
    : `<pre>${code}</pre>`;
  return { html, end: i };
}

function splitRow(line: string): string[] {
  let row = line.trim();
  if (row.startsWith('|')) row = row.slice(1);
  if (row.endsWith('|') && !row.endsWith('\\|')) row = row.slice(0, -1);
  const cells: string[] = [];
  let cell = '';
  let inCode = false;
  for (let i = 0; i < row.length; i++) {
    const c = row[i]!;
    if (c === '\\' && row[i + 1] === '|') {
      cell += '|';
      i++;
    } else if (c === '`') {
      inCode = !inCode;
      cell += c;
    } else if (c === '|' && !inCode) {
      cells.push(cell.trim());
      cell = '';
    } else {
      cell += c;
    }
  }
  cells.push(cell.trim());
  return cells;
}

function displayWidth(text: string): number {
  let width = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (/\p{Mn}|\p{Me}|\u200d|[\ufe00-\ufe0f]/u.test(ch)) continue;
    const wide =
      (cp >= 0x1100 && cp <= 0x115f) ||
      (cp >= 0x2e80 && cp <= 0xa4cf) ||
      (cp >= 0xac00 && cp <= 0xd7a3) ||
      (cp >= 0xf900 && cp <= 0xfaff) ||
      (cp >= 0xff00 && cp <= 0xff60) ||
      /\p{Extended_Pictographic}/u.test(ch);
    width += wide ? 2 : 1;
  }
  return width;
}

function renderTable(lines: string[], start: number): { html: string; end: number } {
  const header = splitRow(lines[start]!);
  const aligns = splitRow(lines[start + 1]!).map((c) =>
    c.startsWith(':') && c.endsWith(':') ? 'center' : c.endsWith(':') ? 'right' : 'left',
  );
  const rows = [header];
  let i = start + 2;
  for (; i < lines.length && lines[i]!.includes('|') && lines[i]!.trim() !== ''; i++)
    rows.push(splitRow(lines[i]!));
  // Cells show as plain text in a monospace block, so inline markup is rendered and then dropped.
  const plain = rows.map((r) =>
    r.map((cell) => parseTelegramHtml(renderInline(cell.replace(/<br\s*\/?>/gi, ' '), false)).text),
  );
  const columns = Math.max(...plain.map((r) => r.length));
  const widths = Array.from({ length: columns }, (_, c) =>
    Math.max(1, ...plain.map((r) => displayWidth(r[c] ?? ''))),
  );
  const pad = (text: string, c: number) => {
    const gap = widths[c]! - displayWidth(text);
    const align = aligns[c] ?? 'left';
    if (align === 'right') return ' '.repeat(gap) + text;
    if (align === 'center') return ' '.repeat(Math.floor(gap / 2)) + text + ' '.repeat(Math.ceil(gap / 2));
    return text + ' '.repeat(gap);
  };
  const line = (r: string[]) =>
    widths
      .map((_, c) => pad(r[c] ?? '', c))
      .join(' | ')
      .trimEnd();
  const out = [line(plain[0]!), widths.map((w) => '-'.repeat(w)).join('-+-'), ...plain.slice(1).map(line)];
  return { html: `<pre>${escapeText(out.join('\n'))}</pre>`, end: i };
}

/** Renders lines of Markdown blocks; `quoted` is set inside a blockquote, which cannot nest. */
function renderBlocks(lines: string[], quoted: boolean): string {
  const out: string[] = [];
  const listIndents: number[] = [];
  const blank = () => {
    if (out.length > 0 && out[out.length - 1] !== '') out.push('');
  };
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === '') {
      blank();
      i++;
      continue;
    }
    if (FENCE_OPEN.test(line)) {
      const fence = renderFence(lines, i);
      out.push(fence.html);
      i = fence.end;
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading || EMPTY_HEADING.test(line)) {
      const content = heading?.[1] ?? '';
      if (content !== '') out.push(`<b>${renderInline(content)}</b>`);
      i++;
      continue;
    }
    if (RULE.test(line)) {
      out.push(RULE_TEXT);
      i++;
      continue;
    }
    if (QUOTE.test(line) && !quoted) {
      const inner: string[] = [];
      for (; i < lines.length && QUOTE.test(lines[i]!); i++)
        inner.push(lines[i]!.replace(/^(?:[ \t]*>[ \t]?)+/, ''));
      out.push(`<blockquote>${renderBlocks(inner, true)}</blockquote>`);
      continue;
    }
    const bullet = BULLET.exec(line);
    const ordered = bullet ? null : ORDERED.exec(line);
    if (bullet || ordered) {
      const indent = indentWidth((bullet ?? ordered)![1]!);
      while (listIndents.length > 0 && listIndents[listIndents.length - 1]! > indent) listIndents.pop();
      if (listIndents.length === 0 || listIndents[listIndents.length - 1]! < indent) listIndents.push(indent);
      const depth = listIndents.length - 1;
      const pad = '   '.repeat(depth);
      if (bullet) {
        const content = bullet[2]!;
        const task = TASK.exec(content);
        const marker = task ? (task[1] === ' ' ? '☐' : '☑') : BULLETS[Math.min(depth, BULLETS.length - 1)];
        out.push(`${pad}${marker} ${renderInline(task ? content.slice(task[0].length) : content)}`);
      } else {
        out.push(`${pad}${ordered![2]}. ${renderInline(ordered![4]!)}`);
      }
      i++;
      continue;
    }
    if (isTableStart(lines, i)) {
      const table = renderTable(lines, i);
      out.push(table.html);
      i = table.end;
      continue;
    }
    const paragraph = [line.trimEnd()];
    for (i++; i < lines.length && !startsBlock(lines, i); i++) paragraph.push(lines[i]!.trimEnd());
    out.push(renderInline(paragraph.join('\n')));
  }
  while (out[out.length - 1] === '') out.pop();
  return out.join('\n');
}

/**
 * Converts the Markdown an LLM writes (CommonMark/GFM-ish: emphasis, code, fences, headings, lists,
 * quotes, links, rules, tables, `||spoilers||`) to Telegram HTML. Never fails and always produces
 * HTML that Telegram accepts: unbalanced markers stay literal, an unclosed code fence (while
 * streaming) renders as a code block so far, and everything that is not markup is escaped.
 */
export function markdownToTelegramHtml(markdown: string): string {
  const text = markdown.replace(/\r\n?/g, '\n').replace(/\0/g, '').replace(LONE_SURROGATE, '\ufffd');
  return renderBlocks(text.split('\n'), false);
}
