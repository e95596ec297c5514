// The playground page: who the user is, sending messages and button presses to the emulator
// through /playground/api, and following the bot's replies over Server-Sent Events.
import { ChatView } from './chat-view.js';
import { formatAmount } from './render.js';

const API = '/playground/api';
const STORAGE_KEY = 'vitte-playground-user';
const $ = (id) => document.querySelector(`[data-testid="${id}"]`);

const state = {
  user: loadUser(),
  bot: null,
  events: null,
  connectedOnce: false,
  pendingButtons: new Map(),
};

function randomUser() {
  const ru = (navigator.language || '').toLowerCase().startsWith('ru');
  return {
    id: 100_000_000 + Math.floor(Math.random() * 900_000_000),
    first_name: ru ? 'Тестер' : 'Tester',
    username: '',
    language_code: ru ? 'ru' : 'en',
  };
}

function loadUser() {
  try {
    const saved = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? 'null');
    if (saved && Number.isSafeInteger(saved.id) && saved.id > 0 && saved.first_name) return saved;
  } catch {
    // A broken entry is replaced below.
  }
  const user = randomUser();
  localStorage.setItem(STORAGE_KEY, JSON.stringify(user));
  return user;
}

function userPayload() {
  const { id, first_name, username, language_code } = state.user;
  return { id, first_name, language_code, ...(username ? { username } : {}) };
}

async function api(method, path, body) {
  const res = await fetch(`${API}${path}`, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data?.error?.message ?? `${res.status} ${res.statusText}`);
  return data;
}

// ---- status line, toast, alert ------------------------------------------------------------

let baseStatus = 'connecting…';
function setStatus(text) {
  $('bot-status').textContent = text ?? baseStatus;
  $('bot-status').classList.toggle('active', Boolean(text));
}

let toastTimer;
function toast(text) {
  const node = $('callback-toast');
  node.textContent = text;
  node.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (node.hidden = true), 3500);
}

function alertBox(text) {
  $('alert-text').textContent = text;
  $('alert-dialog').hidden = false;
  $('alert-ok').focus();
}
$('alert-ok').addEventListener('click', () => ($('alert-dialog').hidden = true));

// ---- the chat ------------------------------------------------------------------------------

const view = new ChatView($('message-list'), {
  onCallback: pressButton,
  onCommand: (text) => send(text),
  onPay: (message, button) => openPayDialog(message.invoice, { message_id: message.message_id }, button),
  onPayLink: payLink,
  onStatus: setStatus,
});

async function pressButton(messageId, data, button) {
  button.classList.add('loading');
  state.pendingButtons.set(messageId, button);
  setTimeout(() => button.classList.remove('loading'), 3000);
  try {
    await api('POST', '/callback', { user: userPayload(), message_id: messageId, data });
  } catch (err) {
    button.classList.remove('loading');
    toast(`Could not press the button: ${err.message}`);
  }
}

// ---- paying ---------------------------------------------------------------------------------
// Like Telegram's payment form: the invoice, then Pay, which runs the real pre-checkout and
// successful_payment flow; the bot's refusal (error_message) is shown in the form.

const payDialog = { target: null, button: null };

function openPayDialog(invoice, target, button) {
  payDialog.target = target;
  payDialog.button = button;
  const amount = formatAmount(invoice.total_amount, invoice.currency);
  const monthly = Boolean(invoice.subscription_period);
  $('pay-title').textContent = invoice.title;
  $('pay-description').textContent = invoice.description;
  $('pay-amount').textContent = monthly ? `${amount} / month` : amount;
  $('pay-confirm').textContent = monthly ? `Subscribe for ${amount} a month` : `Pay ${amount}`;
  $('pay-confirm').disabled = false;
  $('pay-error').hidden = true;
  $('pay-dialog').hidden = false;
  $('pay-confirm').focus();
}

function closePayDialog() {
  $('pay-dialog').hidden = true;
  payDialog.button?.classList.remove('loading');
  payDialog.target = null;
  payDialog.button = null;
}

async function payLink(url, button) {
  button.classList.add('loading');
  try {
    const invoice = await api('GET', `/invoice?link=${encodeURIComponent(url)}`);
    openPayDialog(invoice, { invoice_link: url }, button);
  } catch (err) {
    toast(`This invoice cannot be paid: ${err.message}`);
  } finally {
    button.classList.remove('loading');
  }
}

async function confirmPay() {
  const { target, button } = payDialog;
  if (!target) return;
  $('pay-confirm').disabled = true;
  button?.classList.add('loading');
  try {
    const result = await api('POST', '/pay', { user: userPayload(), ...target });
    if (result.ok) return closePayDialog();
    $('pay-error').textContent = result.error_message;
    $('pay-error').hidden = false;
  } catch (err) {
    $('pay-error').textContent = `Payment failed: ${err.message}`;
    $('pay-error').hidden = false;
  } finally {
    $('pay-confirm').disabled = false;
    button?.classList.remove('loading');
  }
}
$('pay-confirm').addEventListener('click', () => confirmPay());
$('pay-cancel').addEventListener('click', closePayDialog);

async function send(text) {
  const trimmed = text.trim();
  if (!trimmed) return;
  try {
    const update = await api('POST', '/messages', { user: userPayload(), text });
    // The SSE echo usually arrives first; upsert keeps a single bubble either way.
    if (update.message) view.upsertMessage(update.message, false);
    view.scrollToBottom(true);
    if ($('reply-keyboard').dataset.oneTime === 'true') setReplyKeyboard(null);
  } catch (err) {
    toast(`Not sent: ${err.message}`);
    throw err;
  }
}

function setReplyKeyboard(markup) {
  const box = $('reply-keyboard');
  box.replaceChildren();
  box.hidden = !markup?.keyboard?.length;
  box.dataset.oneTime = String(Boolean(markup?.one_time_keyboard));
  if (box.hidden) return;
  for (const buttons of markup.keyboard) {
    const row = document.createElement('div');
    row.className = 'kb-row';
    for (const b of buttons) {
      const text = typeof b === 'string' ? b : b.text;
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'kb-button';
      button.dataset.testid = 'reply-keyboard-button';
      button.textContent = text;
      button.addEventListener('click', () => send(text).catch(() => {}));
      row.append(button);
    }
    box.append(row);
  }
  if (markup.input_field_placeholder) $('message-input').placeholder = markup.input_field_placeholder;
}

async function loadConversation() {
  const conversation = await api('GET', `/chats/${state.user.id}`);
  view.clear();
  const messages = (conversation.messages ?? [])
    .filter((m) => !m.deleted)
    .sort((a, b) => a.message_id - b.message_id);
  for (const m of messages) view.upsertMessage(m, m.outgoing);
  setReplyKeyboard(conversation.reply_keyboard ?? null);
  view.scrollToBottom(true);
}

function handleEvent(event) {
  const { type, data } = event;
  switch (type) {
    case 'update': {
      const message = data.update?.message;
      if (message && message.chat?.id === state.user.id) view.upsertMessage(message, false);
      break;
    }
    case 'message':
      view.clearDrafts();
      view.hideTyping();
      view.upsertMessage(data.message, true);
      setReplyKeyboard(data.reply_keyboard);
      break;
    case 'message_edited':
      view.upsertMessage(data.message, true);
      break;
    case 'message_deleted':
      view.removeMessage(data.message_id);
      break;
    case 'draft':
      view.showDraft(data.draft_id, data.text, data.entities);
      break;
    case 'chat_action':
      view.showTyping(data.action);
      break;
    case 'callback_answer': {
      state.pendingButtons.get(data.message_id)?.classList.remove('loading');
      if (data.text) (data.show_alert ? alertBox : toast)(data.text);
      break;
    }
    case 'reset':
      loadConversation().catch(() => {});
      break;
    default:
  }
}

function connect() {
  state.events?.close();
  state.connectedOnce = false;
  const source = new EventSource(`${API}/events?chat_id=${state.user.id}`);
  state.events = source;
  source.addEventListener('open', () => {
    baseStatus = 'bot';
    setStatus(null);
    // After a reconnect some events may have been missed: the conversation is the truth.
    if (state.connectedOnce) loadConversation().catch(() => {});
    state.connectedOnce = true;
    document.body.dataset.connected = 'true';
  });
  source.addEventListener('error', () => {
    baseStatus = 'reconnecting…';
    setStatus(null);
    document.body.dataset.connected = 'false';
  });
  source.addEventListener('message', (e) => {
    try {
      handleEvent(JSON.parse(e.data));
    } catch (err) {
      console.error('playground: bad event', err);
    }
  });
}

// ---- commands menu -------------------------------------------------------------------------

async function loadCommands() {
  const commands = await api('GET', `/commands?language_code=${state.user.language_code}`).catch(() => []);
  const menu = $('commands-menu');
  menu.replaceChildren();
  $('commands-button').hidden = commands.length === 0;
  for (const c of commands) {
    const item = document.createElement('button');
    item.type = 'button';
    item.className = 'command-item';
    item.dataset.testid = 'command-item';
    const name = document.createElement('span');
    name.className = 'command-name';
    name.textContent = `/${c.command}`;
    const description = document.createElement('span');
    description.className = 'command-description';
    description.textContent = c.description;
    item.append(name, description);
    item.addEventListener('click', () => {
      menu.hidden = true;
      send(`/${c.command}`).catch(() => {});
    });
    menu.append(item);
  }
}
$('commands-button').addEventListener('click', (e) => {
  e.stopPropagation();
  $('commands-menu').hidden = !$('commands-menu').hidden;
});
document.addEventListener('click', (e) => {
  const menu = $('commands-menu');
  if (!menu.hidden && !menu.contains(e.target)) menu.hidden = true;
});

// ---- composer ------------------------------------------------------------------------------

const input = $('message-input');
function autosize() {
  input.style.height = 'auto';
  input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
}
input.addEventListener('input', autosize);
input.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    $('composer').requestSubmit();
  }
});
$('composer').addEventListener('submit', async (e) => {
  e.preventDefault();
  const text = input.value;
  if (!text.trim()) return;
  input.value = '';
  autosize();
  $('commands-menu').hidden = true;
  try {
    await send(text);
  } catch {
    input.value = text;
  }
  input.focus();
});
$('start-link').addEventListener('click', () => {
  send('/start').catch(() => {});
});

// ---- who am I ------------------------------------------------------------------------------

const panel = $('user-panel');
function showUser() {
  $('current-user').textContent = state.user.first_name.slice(0, 1).toUpperCase();
  $('current-user').title = `${state.user.first_name} · id ${state.user.id} · ${state.user.language_code}`;
  panel.elements.id.value = String(state.user.id);
  panel.elements.first_name.value = state.user.first_name;
  panel.elements.username.value = state.user.username ?? '';
  panel.elements.language_code.value = state.user.language_code;
}
$('user-settings-button').addEventListener('click', () => {
  panel.hidden = !panel.hidden;
  $('user-settings-button').setAttribute('aria-expanded', String(!panel.hidden));
});
$('random-user-button').addEventListener('click', () => {
  const next = randomUser();
  panel.elements.id.value = String(next.id);
});
panel.addEventListener('submit', (e) => {
  e.preventDefault();
  const id = Number(panel.elements.id.value);
  if (!Number.isSafeInteger(id) || id <= 0) return toast('The user id must be a positive number');
  state.user = {
    id,
    first_name: panel.elements.first_name.value.trim() || 'Tester',
    username: panel.elements.username.value.trim().replace(/^@/, ''),
    language_code: panel.elements.language_code.value === 'ru' ? 'ru' : 'en',
  };
  localStorage.setItem(STORAGE_KEY, JSON.stringify(state.user));
  panel.hidden = true;
  start().catch((err) => toast(err.message));
});

async function start() {
  showUser();
  document.documentElement.lang = state.user.language_code;
  connect();
  await Promise.all([loadConversation(), loadCommands()]);
}

async function init() {
  try {
    const info = await api('GET', '/info');
    state.bot = info.bot;
    $('bot-name').textContent = info.bot.first_name;
    $('bot-avatar').textContent = info.bot.first_name.slice(0, 1).toUpperCase();
    document.title = `${info.bot.first_name} · playground`;
  } catch (err) {
    toast(`The bot emulator is not reachable: ${err.message}`);
  }
  await start();
  input.focus();
}

init().catch((err) => toast(err.message));
