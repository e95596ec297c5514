/**
 * markdown-it configured for LLM answers that end up as Telegram HTML (see markdown.ts). Everything
 * that cannot be shown in Telegram, or that would change what the model wrote, is switched off here.
 */
import MarkdownIt, {
  type MarkdownIt as MarkdownParser,
  type StateBlock,
  type StateCore,
  type StateInline,
} from 'markdown-it';

const PIPE = 0x7c;
const LT = 0x3c;
const TASK = /^\[([ xX])\][ \t]+/;
const LINE_BREAK_TAG = /^<br\s*\/?>/i;

// markdown-it's own text rule stops only at the characters its rules start with; `|` is added so
// that `||spoilers||` are seen. The rest of the list is markdown-it's.
const TERMINATORS = new Set([...'\n!#$%&*+-:<=>@[\\]^_`{}~|'].map((c) => c.charCodeAt(0)));

function text(state: StateInline, silent: boolean): boolean {
  let pos = state.pos;
  while (pos < state.posMax && !TERMINATORS.has(state.src.charCodeAt(pos))) pos++;
  if (pos === state.pos) return false;
  if (!silent) state.pending += state.src.slice(state.pos, pos);
  state.pos = pos;
  return true;
}

/** `||text||` is a Telegram spoiler; it pairs like `~~` (flanking rules, no other run length). */
function spoilerTokenize(state: StateInline, silent: boolean): boolean {
  if (silent || state.src.charCodeAt(state.pos) !== PIPE) return false;
  const scanned = state.scanDelims(state.pos, true);
  if (scanned.length === 2) {
    const token = state.push('text', '', 0);
    token.content = '||';
    state.delimiters.push({
      marker: PIPE,
      length: 0,
      token: state.tokens.length - 1,
      end: -1,
      open: scanned.can_open,
      close: scanned.can_close,
    });
  } else {
    state.pending += '|'.repeat(scanned.length);
  }
  state.pos += scanned.length;
  return true;
}

function spoilerPostProcess(state: StateInline): boolean {
  const lists = [state.delimiters, ...state.tokens_meta.map((meta) => meta?.delimiters ?? [])];
  for (const delimiters of lists) {
    for (const opener of delimiters) {
      if (opener.marker !== PIPE || opener.end === -1) continue;
      const open = state.tokens[opener.token]!;
      const close = state.tokens[delimiters[opener.end]!.token]!;
      Object.assign(open, { type: 'spoiler_open', tag: 'tg-spoiler', nesting: 1, markup: '||', content: '' });
      Object.assign(close, {
        type: 'spoiler_close',
        tag: 'tg-spoiler',
        nesting: -1,
        markup: '||',
        content: '',
      });
    }
  }
  return true;
}

/** Raw HTML stays text, but models put `<br>` in table cells so often that it means a line break. */
function lineBreakTag(state: StateInline, silent: boolean): boolean {
  if (state.src.charCodeAt(state.pos) !== LT) return false;
  const match = LINE_BREAK_TAG.exec(state.src.slice(state.pos, state.pos + 8));
  if (!match) return false;
  if (!silent) state.push('hardbreak', 'br', 0);
  state.pos += match[0].length;
  return true;
}

/**
 * GFM reads every line after a table up to a blank line as one more row; models mean a line without
 * a pipe as the text after the table. As a terminator of the table's rows (the `blockquote` chain
 * is the one the table rule asks), this ends the table there; as a block rule it never matches.
 */
function tableEndsAtLineWithoutPipe(state: StateBlock, line: number, _end: number, silent: boolean): boolean {
  if (!silent || state.parentType !== 'table') return false;
  return !state.src.slice(state.bMarks[line]! + state.tShift[line]!, state.eMarks[line]!).includes('|');
}

/** `- [ ] todo` / `- [x] done`: the box is taken out of the text and kept on the item as `meta.task`. */
function taskItems(state: StateCore): boolean {
  const tokens = state.tokens;
  for (let i = 2; i < tokens.length; i++) {
    const item = tokens[i - 2]!;
    const inline = tokens[i]!;
    if (
      inline.type !== 'inline' ||
      item.type !== 'list_item_open' ||
      tokens[i - 1]!.type !== 'paragraph_open'
    )
      continue;
    if (!'-*+'.includes(item.markup)) continue;
    const box = TASK.exec(inline.content);
    if (!box) continue;
    inline.content = inline.content.slice(box[0].length);
    item.meta = { task: box[1] === ' ' ? 'open' : 'done' };
  }
  return true;
}

/**
 * A markdown-it instance for the Telegram HTML renderer in markdown.ts. Raw HTML, entity references
 * (`&amp;` stays as typed), indented code blocks (models fence code; an indented line is prose) and
 * setext headings (`text` over `---` is a paragraph and a rule, and does not flip while streaming)
 * are off; the typographer is off so the text is the model's. Links are checked by the renderer
 * against Telegram's schemes, so markdown-it keeps every URL as written. Bare `scheme://` URLs are
 * recognised (the inline linkify rule) only so that `_` and `*` inside them are not read as emphasis;
 * Telegram links them itself. The core linkify rule, which runs after emphasis, is off.
 */
export function createMarkdownParser(): MarkdownParser {
  const md = new MarkdownIt('default', { html: false, linkify: true, typographer: false });
  md.disable(['html_block', 'html_inline', 'entity', 'code', 'lheading']);
  md.core.ruler.disable('linkify');
  md.validateLink = () => true;
  md.normalizeLink = (url) => url;
  md.normalizeLinkText = (url) => url;
  md.inline.ruler.at('text', text);
  md.inline.ruler.after('strikethrough', 'spoiler', spoilerTokenize);
  md.inline.ruler2.after('strikethrough', 'spoiler', spoilerPostProcess);
  md.inline.ruler.before('html_inline', 'line_break_tag', lineBreakTag);
  md.block.ruler.before('table', 'table_end', tableEndsAtLineWithoutPipe, { alt: ['blockquote'] });
  md.core.ruler.after('block', 'task_items', taskItems);
  return md;
}
