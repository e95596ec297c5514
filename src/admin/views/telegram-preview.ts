import { type MessageEntity, parseTelegramHtml } from '../../integrations/telegram/format/telegram-html.js';
import { escapeHtml, html, raw, type SafeHtml } from '../html.js';

function openTag(e: MessageEntity): string {
  switch (e.type) {
    case 'bold':
      return '<b>';
    case 'italic':
      return '<i>';
    case 'underline':
      return '<u>';
    case 'strikethrough':
      return '<s>';
    case 'spoiler':
      return '<span class="tg-spoiler">';
    case 'code':
      return '<code>';
    case 'pre':
      return '<pre>';
    case 'blockquote':
    case 'expandable_blockquote':
      return '<blockquote>';
    case 'text_link':
      // Telegram already dropped links with other schemes; only http(s)/tg/mailto reach here.
      return /^(https?|tg|mailto):/i.test(e.url)
        ? `<a href="${escapeHtml(e.url)}" target="_blank" rel="noopener noreferrer">`
        : '<span>';
    default:
      return '<span>';
  }
}

function closeTag(e: MessageEntity): string {
  const open = openTag(e);
  const name = /^<([a-z]+)/.exec(open)?.[1] ?? 'span';
  return `</${name}>`;
}

/**
 * Render what Telegram will show — its own text and entities after parsing the HTML, with offsets
 * in UTF-16 units like JavaScript strings — as safe HTML for the preview bubble.
 */
export function renderEntities(text: string, entities: readonly MessageEntity[]): SafeHtml {
  const sorted = [...entities].sort((a, b) => a.offset - b.offset || b.length - a.length);
  const bounds = new Set<number>([0, text.length]);
  for (const e of sorted) {
    bounds.add(e.offset);
    bounds.add(e.offset + e.length);
  }
  const points = [...bounds].filter((p) => p >= 0 && p <= text.length).sort((a, b) => a - b);
  const stack: MessageEntity[] = [];
  let out = '';
  let next = 0;
  for (let i = 0; i < points.length; i++) {
    const at = points[i]!;
    // Close what ends here; anything opened inside it is closed and reopened (keeps tags balanced).
    const ending = stack.filter((e) => e.offset + e.length <= at);
    if (ending.length) {
      const keep: MessageEntity[] = [];
      while (stack.length) {
        const top = stack.pop()!;
        out += closeTag(top);
        if (top.offset + top.length > at) keep.unshift(top);
      }
      for (const e of keep) {
        out += openTag(e);
        stack.push(e);
      }
    }
    while (next < sorted.length && sorted[next]!.offset === at) {
      const e = sorted[next++]!;
      if (e.length <= 0) continue;
      out += openTag(e);
      stack.push(e);
    }
    const end = points[i + 1];
    if (end !== undefined) out += escapeHtml(text.slice(at, end));
  }
  while (stack.length) out += closeTag(stack.pop()!);
  return raw(out);
}

export interface PreviewInput {
  text: string;
  photo?: string | null;
  buttonText?: string | null;
  buttonUrl?: string | null;
}

/** The message as a Telegram chat would show it, or nothing when the HTML does not parse. */
export function previewBubble(input: PreviewInput): SafeHtml {
  let body: SafeHtml;
  try {
    const parsed = parseTelegramHtml(input.text);
    body = renderEntities(parsed.text, parsed.entities);
  } catch {
    body = html`<span class="muted">(the text does not parse as Telegram HTML)</span>`;
  }
  // The CSP allows images from this site only, so a remote photo is shown as its address.
  const photo = input.photo?.trim();
  // No whitespace inside the bubble: it keeps the message's own line breaks (white-space: pre-wrap).
  const photoLine = photo ? html`<div class="muted small">🖼 photo: ${photo}</div>` : '';
  const button = input.buttonText?.trim()
    ? html`<span class="tg-button">${input.buttonText.trim()}</span>`
    : '';
  return html`<div class="tg-bubble" data-testid="preview-bubble">${photoLine}${body}</div>${button}`;
}
