import type { DialogSummary } from '../../domain/dialogs/dialogs.service.js';
import type { UserPurchases } from '../../domain/payments/payments.service.js';
import type { UserUsage } from '../../domain/stats/stats.repository.js';
import type { QuotaView } from '../../domain/subscriptions/subscriptions.service.js';
import type { UserListItem, UserSearch } from '../../domain/users/users.repository.js';
import type { AdminAuditEntry, Dialog, Message, Subscription, User } from '../../platform/db/schema.js';
import { html, type SafeHtml } from '../html.js';
import {
  actionButton,
  badge,
  csrfField,
  field,
  fmtDate,
  fmtNum,
  jsonBlock,
  listTable,
  notice,
  PAGE_LABELS,
  pager,
  select,
} from './components.js';
import { type GalleryItem, imageGallery } from './images.view.js';
import { userPurchasesCard } from './payments.view.js';

export function displayName(u: Pick<User, 'first_name' | 'last_name'>): string {
  return [u.first_name, u.last_name].filter(Boolean).join(' ') || '(no name)';
}

export function userStatus(u: Pick<User, 'banned_at' | 'bot_blocked_at'>): SafeHtml {
  if (u.banned_at) return badge('banned', 'danger');
  if (u.bot_blocked_at) return badge('blocked the bot', 'warn');
  return badge('active', 'ok');
}

const STATUSES = [
  ['', 'Any status'],
  ['active', 'Active'],
  ['banned', 'Banned'],
  ['blocked', 'Blocked the bot'],
] as const;

export interface UserListView {
  filter: Omit<UserSearch, 'limit'>;
  items: UserListItem[];
  nextCursor: number | null;
  plans: string[];
  /** Why there are no results (the search ran out of time). */
  error?: string;
}

export function userResults(v: UserListView): SafeHtml {
  return html`<div id="user-results">
    ${v.error ? notice('error', v.error) : ''}
    ${listTable({
      columns: [
        'ID',
        'Name',
        ['Username', 'hide-sm'],
        'Plan',
        'Status',
        ['Joined', 'hide-sm'],
        ['Last active', 'hide-sm'],
      ],
      items: v.items,
      row: (u) => html`<tr data-user-id="${u.id}">
        <td class="mono"><a href="/admin/users/${u.id}">${u.id}</a></td>
        <td><a href="/admin/users/${u.id}">${displayName(u)}</a></td>
        <td class="hide-sm">${u.username ? `@${u.username}` : html`<span class="muted">—</span>`}</td>
        <td>${u.plan ?? '—'}</td>
        <td>${userStatus(u)}${u.is_admin ? html` ${badge('bot admin', 'info')}` : ''}</td>
        <td class="hide-sm nowrap">${fmtDate(u.created_at)}</td>
        <td class="hide-sm nowrap">${fmtDate(u.last_active_at)}</td>
      </tr>`,
      empty: 'No users match.',
    })}
    ${pager({
      path: '/admin/users',
      filters: { q: v.filter.query, plan: v.filter.plan, status: v.filter.status },
      onFirstPage: v.filter.beforeId === undefined,
      nextCursor: v.nextCursor,
      labels: PAGE_LABELS,
    })}
  </div>`;
}

export function usersBody(v: UserListView): SafeHtml {
  return html`<form class="filters card" method="get" action="/admin/users" role="search"
      hx-get="/admin/users" hx-target="#user-results" hx-select="#user-results" hx-swap="outerHTML" hx-push-url="true"
      hx-trigger="input changed delay:350ms from:#f-q, change from:select">
    ${field({ label: 'Search', name: 'q', type: 'search', value: v.filter.query, id: 'f-q', hint: 'Telegram id, @username or name' })}
    ${select({ label: 'Plan', name: 'plan', value: v.filter.plan ?? '', options: [['', 'Any plan'], ...v.plans.map((p) => [p, p] as const)] })}
    ${select({ label: 'Status', name: 'status', value: v.filter.status ?? '', options: STATUSES })}
    <div class="field"><button type="submit">Search</button></div>
  </form>
  ${userResults(v)}`;
}

export interface UserDetailView {
  user: User;
  dialogs: DialogSummary[];
  subscription: Subscription | undefined;
  quota: QuotaView | undefined;
  usage: UserUsage;
  plans: string[];
  audit: AdminAuditEntry[];
  purchases: UserPurchases;
  /** The user's newest pictures. */
  images: GalleryItem[];
  canEdit: boolean;
  csrf: string;
  error?: string | undefined;
}

export function userDetailBody(v: UserDetailView): SafeHtml {
  const u = v.user;
  const base = `/admin/users/${u.id}`;
  const sub = v.subscription;
  const q = v.quota;
  return html`
  <div class="grid two">
    <section class="card">
      <h2>Profile</h2>
      <dl class="props">
        <dt>Telegram id</dt><dd class="mono" data-testid="user-id">${u.id}</dd>
        <dt>Name</dt><dd>${displayName(u)}</dd>
        <dt>Username</dt><dd>${u.username ? `@${u.username}` : '—'}</dd>
        <dt>Language</dt><dd>${u.language ?? u.language_code ?? '—'}</dd>
        <dt>Status</dt><dd data-testid="user-status">${userStatus(u)}${u.is_admin ? html` ${badge('bot admin', 'info')}` : ''}</dd>
        ${u.banned_at ? html`<dt>Banned</dt><dd>${fmtDate(u.banned_at)}${u.ban_reason ? html` — ${u.ban_reason}` : ''}</dd>` : ''}
        ${u.bot_blocked_at ? html`<dt>Blocked the bot</dt><dd>${fmtDate(u.bot_blocked_at)}</dd>` : ''}
        <dt>Joined</dt><dd>${fmtDate(u.created_at)}</dd>
        <dt>Last active</dt><dd>${fmtDate(u.last_active_at)}</dd>
        <dt>Source</dt><dd>${u.utm_source ?? '—'}</dd>
      </dl>
    </section>
    <section class="card">
      <h2>Subscription and usage</h2>
      <dl class="props">
        <dt>Plan</dt><dd data-testid="user-plan">${sub?.plan ?? '—'}</dd>
        <dt>Until</dt><dd>${sub?.expires_at ? fmtDate(sub.expires_at) : 'no end'}</dd>
        <dt>Messages</dt><dd data-testid="user-messages-used">${q ? `${fmtNum(q.messagesUsed)} / ${fmtNum(q.messagesLimit)}` : '—'}</dd>
        <dt>Images</dt><dd>${q ? `${fmtNum(q.imagesUsed)} / ${fmtNum(q.imagesLimit)}` : '—'}</dd>
        <dt>Quota resets</dt><dd>${q ? fmtDate(q.resetsAt) : '—'}</dd>
        <dt>Dialogs</dt><dd data-testid="user-dialogs">${fmtNum(v.usage.dialogs)}</dd>
        <dt>Messages sent</dt><dd>${fmtNum(v.usage.messages)}</dd>
        <dt>Last message</dt><dd>${fmtDate(v.usage.lastMessageAt)}</dd>
      </dl>
    </section>
  </div>
  ${dialogsCard(v, base)}
  ${userPurchasesCard(v.purchases)}
  <section class="card" id="user-images">
    <h2>Pictures <a class="small" href="/admin/images?user=${u.id}">all</a></h2>
    ${imageGallery(v.images, { showUser: false })}
  </section>
  ${v.canEdit ? actions(v, base) : html`<p class="muted">You have read-only access.</p>`}
  <section class="card">
    <h2>Admin actions on this user</h2>
    ${
      v.audit.length
        ? html`<div class="table-wrap"><table><thead><tr><th>When</th><th>Who</th><th>Action</th><th>After</th></tr></thead><tbody>
          ${v.audit.map((a) => html`<tr><td class="nowrap">${fmtDate(a.created_at)}</td><td>${a.admin_username}</td><td>${a.action}</td><td>${jsonBlock(a.after)}</td></tr>`)}
        </tbody></table></div>`
        : html`<p class="muted">None yet.</p>`
    }
  </section>`;
}

function actions(v: UserDetailView, base: string): SafeHtml {
  const u = v.user;
  return html`<section class="card">
    <h2>Actions</h2>
    <div class="grid two">
      <div>
        <h3>Access</h3>
        ${
          u.banned_at
            ? actionButton({ action: `${base}/unban`, label: 'Unban', csrf: v.csrf, kind: 'secondary' })
            : html`<form method="post" action="${base}/ban" class="row" data-confirm="Ban this user? The bot will refuse them.">
                ${csrfField(v.csrf)}
                ${field({ label: 'Reason (optional)', name: 'reason', attrs: html`maxlength="500"` })}
                <div class="field"><button type="submit" class="danger">Ban</button></div>
              </form>`
        }
      </div>
      <div>
        <h3>Bot admin</h3>
        ${actionButton({
          action: `${base}/admin`,
          label: u.is_admin ? 'Revoke bot admin' : 'Make bot admin',
          csrf: v.csrf,
          kind: 'secondary',
          fields: { isAdmin: u.is_admin ? 'false' : 'true' },
          confirm: u.is_admin ? 'Revoke bot admin rights?' : 'Give this user bot admin rights?',
        })}
      </div>
      <div>
        <h3>Grant a plan</h3>
        <form method="post" action="${base}/plan" class="row">
          ${csrfField(v.csrf)}
          ${select({ label: 'Plan', name: 'plan', value: v.subscription?.plan, options: v.plans.map((p) => [p, p] as const) })}
          ${field({ label: 'Until (UTC, end of day; empty: no end)', name: 'until', type: 'date' })}
          <div class="field"><button type="submit">Grant</button></div>
        </form>
      </div>
      <div>
        <h3>Quota</h3>
        ${actionButton({ action: `${base}/reset-quota`, label: 'Reset quota', csrf: v.csrf, kind: 'secondary', confirm: 'Reset the used messages and images to zero?' })}
      </div>
    </div>
  </section>`;
}

/** Where a dialog lives: the user's private chat with the bot, or a group. */
function chatLabel(d: Pick<Dialog, 'chat_id' | 'user_id'>): string {
  return d.chat_id === d.user_id ? 'private' : `group ${d.chat_id}`;
}

function dialogsCard(v: UserDetailView, base: string): SafeHtml {
  return html`<section class="card" data-testid="user-dialog-list">
    <h2>Dialogs</h2>
    ${
      v.dialogs.length
        ? html`<div class="table-wrap"><table><thead><tr><th>Title</th><th>Chat</th><th>Messages</th><th>Last used</th><th></th></tr></thead><tbody>
          ${v.dialogs.map(
            (d) => html`<tr>
              <td>${d.title}${d.is_active ? html` ${badge('active', 'ok')}` : ''}</td>
              <td>${chatLabel(d)}</td>
              <td>${fmtNum(Number(d.message_count))}</td>
              <td class="nowrap">${fmtDate(d.updated_at)}</td>
              <td>${v.canEdit ? html`<a href="${base}/dialogs/${d.id}">Read</a>` : ''}</td>
            </tr>`,
          )}
        </tbody></table></div>
        ${v.canEdit ? html`<p class="muted small">Reading a conversation is recorded in the audit log.</p>` : ''}`
        : html`<p class="muted">No dialogs yet.</p>`
    }
  </section>`;
}

export interface DialogReadView {
  user: User;
  dialog: Dialog;
  messages: Message[];
}

/** One conversation as an admin reads it: who said what, when, newest last. */
export function dialogBody(v: DialogReadView): SafeHtml {
  const { dialog, messages } = v;
  return html`<p><a href="/admin/users/${v.user.id}">← ${displayName(v.user)}</a></p>
  <section class="card">
    <h2>${dialog.title}</h2>
    <p class="muted small">${chatLabel(dialog)} · ${fmtNum(messages.length)} newest messages · started ${fmtDate(dialog.created_at)}</p>
    ${dialog.system_prompt ? html`<p><strong>Persona:</strong> <span class="pre">${dialog.system_prompt}</span></p>` : ''}
    <ol class="transcript" data-testid="dialog-transcript">
      ${messages.map(
        (m) => html`<li class="msg ${m.role}">
          <div class="small muted">${m.role} · ${fmtDate(m.created_at)}</div>
          <div class="pre">${m.content}</div>
        </li>`,
      )}
    </ol>
  </section>`;
}
