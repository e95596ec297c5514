// The message list: bubbles for both sides, inline keyboards, drafts and the typing indicator.
import { formatAmount, formatTime, isInvoiceLink, renderEntities, safeUrl } from './render.js';

const DRAFT_TTL_MS = 30_000;
const ACTION_TTL_MS = 5_000;

const ACTION_LABELS = {
  typing: 'typing',
  upload_photo: 'sending a photo',
  record_video: 'recording a video',
  upload_video: 'sending a video',
  record_voice: 'recording a voice message',
  upload_voice: 'sending a voice message',
  upload_document: 'sending a file',
  choose_sticker: 'choosing a sticker',
  find_location: 'finding a location',
  record_video_note: 'recording a video message',
  upload_video_note: 'sending a video message',
};

function el(tag, className, testId) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (testId) node.dataset.testid = testId;
  return node;
}

export class ChatView {
  /**
   * @param {HTMLElement} root the scrolling message list
   * @param {{ onCallback(messageId: number, data: string, button: HTMLElement): void, onCommand(text: string): void,
   *           onPay(message: object, button: HTMLElement): void, onPayLink(url: string, button: HTMLElement): void,
   *           onStatus(text: string | null): void }} handlers
   */
  constructor(root, handlers) {
    this.root = root;
    this.handlers = handlers;
    this.empty = root.querySelector('[data-testid="empty-chat"]');
    this.drafts = new Map();
    this.typing = null;
    this.typingTimer = null;
    // Whether the view follows the newest message. Only the reader turns it off, by scrolling up
    // (wheel, touch, keys, the scroll bar); content that grows or goes — a picture loading, a
    // placeholder removed — moves the scroll position too, and must not be taken for the reader.
    this.following = true;
    this.readerScrolledAt = 0;
    const reader = () => (this.readerScrolledAt = performance.now());
    for (const type of ['wheel', 'touchstart', 'keydown', 'pointerdown'])
      root.addEventListener(type, reader, { passive: true });
    root.addEventListener(
      'scroll',
      () => {
        if (this.nearBottom()) this.following = true;
        else if (performance.now() - this.readerScrolledAt < 1_000) this.following = false;
      },
      { passive: true },
    );
    // Any row that changes size (a picture loaded, an edit, a draft growing) keeps a following view
    // at the bottom; rows are watched from the moment they are added.
    const resized = new ResizeObserver(() => this.following && this.pin());
    new MutationObserver((changes) => {
      for (const change of changes) {
        for (const node of change.addedNodes) if (node instanceof Element) resized.observe(node);
        for (const node of change.removedNodes) if (node instanceof Element) resized.unobserve(node);
      }
    }).observe(root, { childList: true });
  }

  clear() {
    for (const node of [...this.root.children]) if (node !== this.empty) node.remove();
    this.drafts.clear();
    this.following = true;
    this.hideTyping();
    this.updateEmpty();
  }

  updateEmpty() {
    if (this.empty) this.empty.hidden = this.root.querySelector('.row') !== null;
  }

  nearBottom() {
    return this.root.scrollHeight - this.root.scrollTop - this.root.clientHeight < 120;
  }

  pin() {
    this.root.scrollTop = this.root.scrollHeight;
  }

  /** Shows the newest message when the view follows it (or always, forced: the reader just wrote). */
  scrollToBottom(force = false) {
    if (force) this.following = true;
    if (this.following) this.pin();
  }

  /** Where a new row goes: before the drafts and the typing indicator, which stay at the bottom. */
  append(row) {
    const anchor = this.root.querySelector('.row.draft, .row.typing');
    this.root.insertBefore(row, anchor);
  }

  /** Adds a message, or re-renders it in place when it is already shown (an edit). */
  upsertMessage(message, outgoing) {
    if (!message || typeof message.message_id !== 'number') return;
    const existing = this.root.querySelector(`.row[data-message-id="${message.message_id}"]`);
    const service = message.successful_payment || message.refunded_payment;
    const row = service ? this.serviceRow(message) : this.messageRow(message, outgoing);
    if (existing) existing.replaceWith(row);
    else this.append(row);
    this.updateEmpty();
    this.scrollToBottom();
  }

  removeMessage(messageId) {
    this.root.querySelector(`.row[data-message-id="${messageId}"]`)?.remove();
    this.updateEmpty();
  }

  /** Telegram shows payments and refunds as centred service lines, not bubbles. */
  serviceRow(message) {
    const row = el('div', 'row service', 'service-message');
    row.dataset.messageId = String(message.message_id);
    const pill = el('span', 'service-pill');
    const refunded = message.refunded_payment;
    const paid = message.successful_payment;
    if (refunded) {
      row.dataset.kind = 'refunded_payment';
      pill.textContent = `${formatAmount(refunded.total_amount, refunded.currency)} refunded`;
    } else {
      row.dataset.kind = 'successful_payment';
      const amount = formatAmount(paid.total_amount, paid.currency);
      const until = paid.subscription_expiration_date
        ? ` until ${new Date(paid.subscription_expiration_date * 1000).toLocaleDateString()}`
        : '';
      if (paid.is_first_recurring) pill.textContent = `You subscribed for ${amount} a month${until}`;
      else if (paid.is_recurring) pill.textContent = `Subscription renewed for ${amount}${until}`;
      else pill.textContent = `You paid ${amount}`;
    }
    row.append(pill);
    return row;
  }

  messageRow(message, outgoing) {
    const row = el('div', `row ${outgoing ? 'bot' : 'user'}`, outgoing ? 'bot-message' : 'user-message');
    row.dataset.messageId = String(message.message_id);
    const bubble = el('div', 'bubble');
    if (message.photo?.length) bubble.append(this.photo(message.photo));
    if (message.invoice) bubble.append(this.invoice(message));
    const text = message.text ?? message.caption;
    if (text) {
      const body = el('div', 'text', 'message-text');
      body.append(
        renderEntities(text, message.entities ?? message.caption_entities, {
          onCommand: this.handlers.onCommand,
        }),
      );
      bubble.append(body);
    }
    if (!text && !message.photo && !message.invoice) {
      const body = el('div', 'text muted');
      body.textContent = '(a kind of message the playground cannot show)';
      bubble.append(body);
    }
    const meta = el('div', 'meta');
    if (message.edit_date)
      meta.append(Object.assign(el('span', 'edited', 'edited-mark'), { textContent: 'edited' }));
    meta.append(document.createTextNode(formatTime(message.date)));
    bubble.append(meta);
    row.append(bubble);
    if (message.reply_markup?.inline_keyboard?.length) row.append(this.keyboard(message));
    return row;
  }

  photo(sizes) {
    const largest = sizes[sizes.length - 1];
    const img = el('img', 'photo', 'message-photo');
    img.alt = 'Photo';
    img.loading = 'lazy';
    img.src = `/playground/api/files/${encodeURIComponent(largest.file_id)}`;
    if (largest.width && largest.height) img.style.aspectRatio = `${largest.width} / ${largest.height}`;
    img.addEventListener('error', () => {
      const placeholder = el('div', 'photo placeholder', 'message-photo');
      placeholder.textContent = '🖼 Photo (sent by URL: the emulator does not download it)';
      img.replaceWith(placeholder);
    });
    return img;
  }

  invoice(message) {
    const { invoice } = message;
    const card = el('div', 'invoice', 'invoice');
    const title = el('div', 'invoice-title');
    title.textContent = invoice.title;
    const description = el('div', 'invoice-description');
    description.textContent = invoice.description;
    const amount = el('div', 'invoice-amount');
    amount.textContent = formatAmount(invoice.total_amount, invoice.currency);
    card.append(title, description, amount);
    // Telegram adds the Pay button itself unless the bot sent a keyboard whose first button pays.
    if (!message.reply_markup?.inline_keyboard?.[0]?.[0]?.pay) {
      const pay = el('button', 'kb-button pay', 'pay-button');
      pay.type = 'button';
      pay.textContent = `Pay ${formatAmount(invoice.total_amount, invoice.currency)}`;
      pay.addEventListener('click', () => this.handlers.onPay(message, pay));
      card.append(pay);
    }
    return card;
  }

  keyboard(message) {
    const kb = el('div', 'inline-keyboard', 'inline-keyboard');
    for (const buttons of message.reply_markup.inline_keyboard) {
      const row = el('div', 'kb-row');
      for (const b of buttons) row.append(this.button(message, b));
      kb.append(row);
    }
    return kb;
  }

  button(message, b) {
    const url = b.url ?? b.login_url?.url;
    if (url && isInvoiceLink(url)) {
      // Telegram opens the payment form for an invoice link instead of a browser.
      const button = el('button', 'kb-button', 'inline-button');
      button.type = 'button';
      button.textContent = b.text;
      button.dataset.invoiceLink = url;
      button.addEventListener('click', () => this.handlers.onPayLink(url, button));
      return button;
    }
    if (url) {
      const a = el('a', 'kb-button link', 'inline-button');
      const safe = safeUrl(url);
      if (safe) a.href = safe;
      a.target = '_blank';
      a.rel = 'noopener noreferrer nofollow';
      a.textContent = b.text;
      return a;
    }
    const button = el('button', 'kb-button', 'inline-button');
    button.type = 'button';
    button.textContent = b.text;
    if (b.callback_data !== undefined) {
      button.dataset.callbackData = b.callback_data;
      button.addEventListener('click', () =>
        this.handlers.onCallback(message.message_id, b.callback_data, button),
      );
    } else if (b.pay) {
      button.dataset.testid = 'pay-button';
      button.addEventListener('click', () => this.handlers.onPay(message, button));
    } else if (b.copy_text) {
      button.addEventListener('click', () => navigator.clipboard?.writeText(b.copy_text.text));
    } else {
      button.disabled = true;
      button.title = 'This kind of button does not work in the playground';
    }
    return button;
  }

  showDraft(draftId, text, entities) {
    this.hideTyping();
    let entry = this.drafts.get(draftId);
    if (!entry) {
      const row = el('div', 'row bot draft', 'draft-message');
      row.dataset.draftId = String(draftId);
      const bubble = el('div', 'bubble');
      const body = el('div', 'text', 'draft-text');
      bubble.append(body);
      row.append(bubble);
      this.root.insertBefore(row, this.root.querySelector('.row.typing'));
      entry = { row, body, timer: null };
      this.drafts.set(draftId, entry);
    }
    entry.body.replaceChildren();
    if (text) entry.body.append(renderEntities(text, entities));
    else entry.body.append(Object.assign(el('span', 'muted'), { textContent: 'Thinking…' }));
    entry.body.append(el('span', 'caret'));
    clearTimeout(entry.timer);
    // Telegram drops a draft that is not updated for 30 seconds.
    entry.timer = setTimeout(() => this.removeDraft(draftId), DRAFT_TTL_MS);
    this.updateEmpty();
    this.scrollToBottom();
  }

  removeDraft(draftId) {
    const entry = this.drafts.get(draftId);
    if (!entry) return;
    clearTimeout(entry.timer);
    entry.row.remove();
    this.drafts.delete(draftId);
    this.updateEmpty();
  }

  clearDrafts() {
    for (const id of [...this.drafts.keys()]) this.removeDraft(id);
  }

  showTyping(action) {
    const label = ACTION_LABELS[action] ?? 'typing';
    if (!this.typing) {
      this.typing = el('div', 'row bot typing', 'typing-indicator');
      const bubble = el('div', 'bubble dots');
      for (let i = 0; i < 3; i++) bubble.append(el('span', 'dot'));
      this.typing.append(bubble);
      this.root.append(this.typing);
      this.scrollToBottom();
    }
    this.typing.dataset.action = action;
    this.handlers.onStatus(`${label}…`);
    clearTimeout(this.typingTimer);
    // Telegram shows a chat action for 5 seconds or until the bot's next message.
    this.typingTimer = setTimeout(() => this.hideTyping(), ACTION_TTL_MS);
  }

  hideTyping() {
    clearTimeout(this.typingTimer);
    this.typing?.remove();
    this.typing = null;
    this.handlers.onStatus(null);
  }
}
