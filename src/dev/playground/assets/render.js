// Renders Telegram text + entities into DOM nodes. The bot's HTML was already parsed by the
// emulator into entities, so only Telegram's own formatting can appear here, and every piece of
// text goes through text nodes: nothing the bot sends is ever interpreted as HTML.

const SAFE_LINK = /^(https?:|tg:|mailto:|tel:)/i;

/** An http(s)/tg/mailto/tel link, or null for anything else (javascript:, data:, …). */
export function safeUrl(url) {
  if (typeof url !== 'string') return null;
  const trimmed = url.trim();
  if (SAFE_LINK.test(trimmed)) return trimmed;
  if (/^[\w.-]+\.[a-z]{2,}(\/|$)/i.test(trimmed)) return `https://${trimmed}`;
  return null;
}

function link(href) {
  const a = document.createElement('a');
  const safe = safeUrl(href);
  if (safe) {
    a.href = safe;
    a.target = '_blank';
    a.rel = 'noopener noreferrer nofollow';
  } else {
    a.className = 'dead-link';
  }
  return a;
}

function elementFor(entity, slice, ctx) {
  switch (entity.type) {
    case 'bold':
      return document.createElement('strong');
    case 'italic':
      return document.createElement('em');
    case 'underline':
      return document.createElement('u');
    case 'strikethrough':
      return document.createElement('s');
    case 'code': {
      const code = document.createElement('code');
      code.className = 'inline-code';
      return code;
    }
    case 'pre': {
      const pre = document.createElement('pre');
      if (entity.language && /^[\w+#.-]{1,32}$/.test(entity.language)) pre.dataset.language = entity.language;
      return pre;
    }
    case 'spoiler': {
      const s = document.createElement('span');
      s.className = 'spoiler';
      s.tabIndex = 0;
      s.title = 'Spoiler: click to reveal';
      s.addEventListener('click', () => s.classList.add('revealed'));
      return s;
    }
    case 'blockquote':
    case 'expandable_blockquote': {
      const q = document.createElement('blockquote');
      if (entity.type === 'expandable_blockquote') {
        q.className = 'expandable';
        q.addEventListener('click', () => q.classList.toggle('expanded'));
      }
      return q;
    }
    case 'text_link':
      return link(entity.url);
    case 'url':
      return link(slice);
    case 'email':
      return link(`mailto:${slice}`);
    case 'phone_number':
      return link(`tel:${slice.replace(/[^\d+]/g, '')}`);
    case 'mention':
      return link(`https://t.me/${slice.slice(1)}`);
    case 'bot_command': {
      const a = document.createElement('a');
      a.href = '#';
      a.className = 'command';
      a.dataset.command = slice;
      a.addEventListener('click', (e) => {
        e.preventDefault();
        ctx.onCommand?.(slice.replace(/@\w+$/, ''));
      });
      return a;
    }
    case 'hashtag':
    case 'cashtag':
    case 'text_mention':
    case 'custom_emoji':
    case 'date_time': {
      const s = document.createElement('span');
      s.className = entity.type.replace('_', '-');
      return s;
    }
    default:
      return document.createElement('span');
  }
}

/** Entities whose text must stay as it is (no automatic links inside). */
const INERT = new Set([
  'code',
  'pre',
  'text_link',
  'url',
  'email',
  'mention',
  'bot_command',
  'phone_number',
  'hashtag',
  'cashtag',
]);
const AUTO =
  /(https?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]])|((?:^|(?<=\s))\/[A-Za-z0-9_]{1,32}(?:@\w+)?(?=$|\s|[.,;:!?]))/g;

/**
 * Plain text, with links and /commands made clickable the way Telegram clients detect them
 * (Telegram adds such entities itself; the emulator keeps only the ones the bot sent).
 */
function autoText(str, ctx) {
  if (ctx.inert) return document.createTextNode(str);
  const frag = document.createDocumentFragment();
  let pos = 0;
  for (const m of str.matchAll(AUTO)) {
    if (m.index > pos) frag.append(str.slice(pos, m.index));
    const el = elementFor({ type: m[1] ? 'url' : 'bot_command' }, m[0], ctx);
    el.textContent = m[0];
    frag.append(el);
    pos = m.index + m[0].length;
  }
  if (pos < str.length) frag.append(str.slice(pos));
  return frag;
}

function build(text, start, end, entities, ctx) {
  const frag = document.createDocumentFragment();
  let pos = start;
  let i = 0;
  while (i < entities.length) {
    const e = entities[i];
    const eEnd = Math.min(e.offset + e.length, end);
    const eStart = Math.max(e.offset, pos);
    // Everything that starts inside this entity is nested in it (Telegram's entities nest properly).
    let j = i + 1;
    const nested = [];
    while (j < entities.length && entities[j].offset < e.offset + e.length) nested.push(entities[j++]);
    if (eEnd > eStart) {
      if (eStart > pos) frag.append(autoText(text.slice(pos, eStart), ctx));
      const el = elementFor(e, text.slice(eStart, eEnd), ctx);
      const inner = e.type === 'pre' ? document.createElement('code') : el;
      const childCtx = INERT.has(e.type) ? { ...ctx, inert: true } : ctx;
      inner.append(build(text, eStart, eEnd, nested, childCtx));
      if (inner !== el) el.append(inner);
      frag.append(el);
      pos = eEnd;
    }
    i = j;
  }
  if (pos < end) frag.append(autoText(text.slice(pos, end), ctx));
  return frag;
}

/** A DocumentFragment of `text` formatted by Telegram `entities` (offsets in UTF-16 units). */
export function renderEntities(text, entities = [], ctx = {}) {
  const list = (Array.isArray(entities) ? entities : [])
    .filter((e) => e && Number.isInteger(e.offset) && Number.isInteger(e.length) && e.length > 0)
    .slice()
    .sort((a, b) => a.offset - b.offset || b.length - a.length);
  return build(String(text ?? ''), 0, String(text ?? '').length, list, ctx);
}

/** Telegram-style bubble time, e.g. 14:05. */
export function formatTime(unixSeconds) {
  if (!unixSeconds) return '';
  return new Date(unixSeconds * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** A link createInvoiceLink made: Telegram opens the payment form for it. */
export function isInvoiceLink(url) {
  return typeof url === 'string' && /^https:\/\/t\.me\/\$[\w-]{1,64}$/.test(url);
}

/** "⭐ 100" for Stars, "12.50 USD" for the rest (amounts are in the smallest units). */
export function formatAmount(amount, currency) {
  if (currency === 'XTR') return `⭐ ${amount}`;
  return `${(amount / 100).toFixed(2)} ${currency}`;
}
