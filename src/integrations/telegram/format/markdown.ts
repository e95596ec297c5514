import type { Token } from 'markdown-it';
import { createMarkdownParser } from './markdown-parser.js';
import { escapeHtml } from './telegram-html.js';

const LINK_SCHEME = /^(?:https?:\/\/|tg:\/\/|mailto:)/i;
const RULE_TEXT = '──────────';
const BULLETS = ['•', '◦', '▪'];
const LIST_INDENT = '   ';
const INLINE_TAGS: Record<string, string> = {
  strong_open: 'b',
  em_open: 'i',
  s_open: 's',
  spoiler_open: 'tg-spoiler',
};
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

// Configured once: the instance holds only rules and options, every parse has its own state.
const parser = createMarkdownParser();

/** Whether a link target is one Telegram turns into a clickable text link. */
function isAllowedLink(url: string): boolean {
  return LINK_SCHEME.test(url) && !/\s/.test(url);
}

interface Frame {
  open: string;
  close: string;
  html: string;
  /** Shown when the content is empty (a link without a label shows its URL). */
  fallback: string;
}

/** Tags around a link's label: none for a scheme Telegram does not link, or inside another link. */
function linkTags(href: string, nested: boolean): [string, string] {
  return isAllowedLink(href) && !nested ? [`<a href="${escapeHtml(href)}">`, '</a>'] : ['', ''];
}

/**
 * Inline tokens → Telegram HTML. Every open token starts a frame and every close token ends the
 * innermost one with the frame's own tags, so tags always come in nested pairs; text is escaped.
 * Links found by linkify stay plain text: Telegram links bare URLs itself.
 */
function renderInline(tokens: readonly Token[]): string {
  const frames: Frame[] = [{ open: '', close: '', html: '', fallback: '' }];
  let links = 0;
  const push = (html: string) => {
    frames.at(-1)!.html += html;
  };
  const end = () => {
    const frame = frames.pop()!;
    push(frame.open + (frame.html || frame.fallback) + frame.close);
  };
  for (const token of tokens) {
    if (token.nesting === 1) {
      const tag = INLINE_TAGS[token.type];
      const frame: Frame = { open: '', close: '', html: '', fallback: '' };
      if (tag) [frame.open, frame.close] = [`<${tag}>`, `</${tag}>`];
      if (token.type === 'link_open' && token.markup !== 'linkify') {
        const href = String(token.attrGet('href') ?? '');
        [frame.open, frame.close] = linkTags(href, links > 0);
        frame.fallback = escapeHtml(href);
      }
      if (token.type === 'link_open') links++;
      frames.push(frame);
    } else if (token.nesting === -1) {
      if (token.type === 'link_close') links--;
      if (frames.length > 1) end();
    } else if (token.type === 'code_inline') {
      push(`<code>${escapeHtml(token.content)}</code>`);
    } else if (token.type === 'softbreak' || token.type === 'hardbreak') {
      push('\n');
    } else if (token.type === 'image') {
      const [open, close] = linkTags(String(token.attrGet('src') ?? ''), links > 0);
      push(open + (escapeHtml(plainText(token.children ?? [])) || 'image') + close);
    } else {
      push(escapeHtml(token.content));
    }
  }
  while (frames.length > 1) end();
  return frames[0]!.html;
}

/** Inline tokens as plain text (table cells are monospace text, without markup). */
function plainText(tokens: readonly Token[]): string {
  return tokens
    .map((t) =>
      t.type === 'softbreak' || t.type === 'hardbreak'
        ? ' '
        : t.type === 'image'
          ? plainText(t.children ?? [])
          : t.content,
    )
    .join('');
}

/** A block token and what is inside it: blocks, or the inline token of a paragraph, heading or cell. */
interface Block {
  token: Token;
  children: Block[];
}

function toTree(tokens: readonly Token[]): Block[] {
  const root: Block[] = [];
  const stack = [root];
  for (const token of tokens) {
    if (token.nesting === -1) {
      if (stack.length > 1) stack.pop();
      continue;
    }
    const block: Block = { token, children: [] };
    stack.at(-1)!.push(block);
    if (token.nesting === 1) stack.push(block.children);
  }
  return root;
}

interface Context {
  /** Source lines, to see where the answer had blank lines between blocks. */
  lines: readonly string[];
  /** How many lists the block is in. */
  depth: number;
  /** Put before each line of text blocks (continuation lines of a list item). */
  indent: string;
  /** Inside a blockquote, which Telegram cannot nest. */
  quoted: boolean;
}

interface Piece {
  block: Block;
  html: string;
  /** A text block, which takes the indent of the list item it is in. */
  text: boolean;
}

function inlineOf(block: Block): readonly Token[] {
  return block.children[0]?.token.children ?? [];
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

function descendants(block: Block, type: string): Block[] {
  return block.children.flatMap((c) => (c.token.type === type ? [c] : descendants(c, type)));
}

/** A table as aligned columns of plain text in a monospace block. */
function renderTable(table: Block): string {
  const rows = descendants(table, 'tr_open').map((tr) =>
    tr.children.map((cell) => ({
      text: plainText(inlineOf(cell)),
      align: /text-align:(\w+)/.exec(String(cell.token.attrGet('style') ?? ''))?.[1] ?? 'left',
    })),
  );
  const columns = Math.max(...rows.map((r) => r.length));
  const widths = Array.from({ length: columns }, (_, c) =>
    Math.max(1, ...rows.map((r) => displayWidth(r[c]?.text ?? ''))),
  );
  const line = (row: (typeof rows)[number]) =>
    widths
      .map((width, c) => {
        const { text = '', align = 'left' } = row[c] ?? {};
        const gap = width - displayWidth(text);
        if (align === 'right') return ' '.repeat(gap) + text;
        if (align === 'center')
          return ' '.repeat(Math.floor(gap / 2)) + text + ' '.repeat(Math.ceil(gap / 2));
        return text + ' '.repeat(gap);
      })
      .join(' | ')
      .trimEnd();
  const [header = [], ...body] = rows;
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('-+-'), ...body.map(line)];
  return `<pre>${escapeHtml(out.join('\n'))}</pre>`;
}

function renderFence(token: Token): string {
  const code = escapeHtml(token.content.replace(/\n$/, ''));
  const language = (token.info.trim().split(/\s/)[0] ?? '').replace(/[^\w+#.-]/g, '').slice(0, 32);
  return language
    ? `<pre><code class="language-${escapeHtml(language)}">${code}</code></pre>`
    : `<pre>${code}</pre>`;
}

function renderListItem(item: Block, ordered: boolean, ctx: Context): string {
  const pad = LIST_INDENT.repeat(ctx.depth);
  const task = (item.token.meta as { task?: string } | null)?.task;
  const marker = ordered
    ? `${item.token.info}.`
    : task
      ? task === 'open'
        ? '☐'
        : '☑'
      : BULLETS[Math.min(ctx.depth, BULLETS.length - 1)]!;
  const inner = { ...ctx, depth: ctx.depth + 1, indent: LIST_INDENT.repeat(ctx.depth + 1) };
  const pieces = renderPieces(item.children, inner);
  const first = pieces[0];
  if (first?.text) pieces[0] = { ...first, html: `${pad}${marker} ${first.html}`, text: false };
  else pieces.unshift({ block: item, html: pad + marker, text: false });
  return join(pieces, inner);
}

/** One block as Telegram HTML; '' when it shows nothing. Text blocks come without their indent. */
function renderBlock(block: Block, ctx: Context): Piece {
  const { token } = block;
  const text = (html: string): Piece => ({
    block,
    html: html.replaceAll('\n', `\n${ctx.indent}`),
    text: true,
  });
  const other = (html: string): Piece => ({ block, html, text: false });
  switch (token.type) {
    case 'paragraph_open':
      return text(renderInline(inlineOf(block)));
    case 'heading_open': {
      const html = renderInline(inlineOf(block));
      return text(html && `<b>${html}</b>`);
    }
    case 'hr':
      return text(RULE_TEXT);
    case 'fence':
      return other(renderFence(token));
    case 'table_open':
      return other(renderTable(block));
    case 'bullet_list_open':
    case 'ordered_list_open': {
      const ordered = token.type === 'ordered_list_open';
      const items = block.children.map((item) => ({
        block: item,
        html: renderListItem(item, ordered, ctx),
        text: false,
      }));
      return other(join(items, ctx));
    }
    case 'blockquote_open': {
      const inner = { ...ctx, indent: '', quoted: true };
      const html = join(renderPieces(block.children, inner), inner);
      return other(ctx.quoted || html === '' ? html : `<blockquote>${html}</blockquote>`);
    }
    default:
      return text(escapeHtml(token.content));
  }
}

function renderPieces(blocks: readonly Block[], ctx: Context): Piece[] {
  return blocks.map((block) => renderBlock(block, ctx)).filter((piece) => piece.html !== '');
}

/** Blocks one per line, with a blank line where the answer had one (`>` alone is blank in a quote). */
function join(pieces: readonly Piece[], ctx: Context): string {
  let out = '';
  pieces.forEach((piece, i) => {
    if (i > 0) {
      const start = piece.block.token.map?.[0] ?? 0;
      out += start > 0 && /^[\s>]*$/.test(ctx.lines[start - 1] ?? '') ? '\n\n' : '\n';
    }
    out += (piece.text ? ctx.indent : '') + piece.html;
  });
  return out;
}

/**
 * Converts the Markdown an LLM writes (CommonMark with GFM tables and strikethrough, `||spoilers||`
 * and `- [ ]` task items) to Telegram HTML, parsed by markdown-it. Never fails and always produces
 * HTML that Telegram accepts, also for an answer cut anywhere while it streams: unclosed markers stay
 * literal, an unclosed code fence renders as a code block so far, and everything else is escaped.
 * Headings become bold lines, lists get bullets and numbers, tables become aligned monospace text.
 */
export function markdownToTelegramHtml(markdown: string): string {
  const text = markdown.replace(LONE_SURROGATE, '\ufffd');
  const tokens = parser.parse(text, {});
  const ctx: Context = {
    lines: text.replace(/\r\n?/g, '\n').split('\n'),
    depth: 0,
    indent: '',
    quoted: false,
  };
  return join(renderPieces(toTree(tokens), ctx), ctx);
}
