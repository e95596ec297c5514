import type { AdminView } from '../../domain/admin/index.js';
import type { AdminUser } from '../../platform/db/schema.js';
import type { ValidationIssue } from '../../platform/errors.js';
import { html, type SafeHtml } from '../html.js';
import { badge, csrfField, field, fmtDate, issuesAt, notice, select } from './components.js';

const ROLE_OPTIONS = [
  ['viewer', 'viewer — reads everything, changes nothing'],
  ['admin', 'admin — manages users, settings, broadcasts'],
  ['owner', 'owner — also manages admin accounts'],
] as const;

export function adminsBody(o: {
  admins: AdminView[];
  me: AdminUser;
  csrf: string;
  issues?: ValidationIssue[];
  form?: { username?: string; role?: string };
}): SafeHtml {
  const issues = o.issues ?? [];
  const general = issues.filter((i) => !['username', 'password', 'role'].includes(i.path));
  return html`<section class="card table-wrap">
    <h2>Accounts</h2>
    <table>
      <thead><tr><th>Username</th><th>Role</th><th>Status</th><th class="hide-sm">Last sign-in</th><th>Change</th></tr></thead>
      <tbody>${o.admins.map(
        (a) => html`<tr data-admin="${a.username}">
          <td>${a.username}${a.id === o.me.id ? html` <span class="muted small">(you)</span>` : ''}</td>
          <td>${badge(a.role, a.role === 'owner' ? 'info' : '')}</td>
          <td>${a.disabled_at ? badge('disabled', 'danger') : a.locked_until && a.locked_until > new Date() ? badge('locked', 'warn') : badge('active', 'ok')}</td>
          <td class="hide-sm nowrap">${fmtDate(a.last_login_at)}</td>
          <td>${
            a.id === o.me.id
              ? html`<span class="muted small">—</span>`
              : html`<form method="post" action="/admin/admins/${a.id}" class="inline-form">
                  ${csrfField(o.csrf)}
                  <select name="role" aria-label="Role of ${a.username}">${ROLE_OPTIONS.map(([v]) => html`<option value="${v}" ${v === a.role ? html`selected` : ''}>${v}</option>`)}</select>
                  <label class="small" style="font-weight:400"><input type="checkbox" name="disabled" value="true" ${a.disabled_at ? html`checked` : ''}> disabled</label>
                  <button type="submit" class="secondary">Save</button>
                </form>`
          }</td>
        </tr>`,
      )}</tbody>
    </table>
  </section>
  <section class="card">
    <h2>New account</h2>
    ${general.length ? notice('error', general.map((i) => i.message).join(' · ')) : ''}
    <form method="post" action="/admin/admins" class="row">
      ${csrfField(o.csrf)}
      ${field({ label: 'Username', name: 'username', value: o.form?.username, required: true, errors: issuesAt(issues, 'username'), autocomplete: 'off' })}
      ${field({ label: 'Password (12+ characters)', name: 'password', type: 'password', required: true, errors: issuesAt(issues, 'password'), autocomplete: 'new-password' })}
      ${select({ label: 'Role', name: 'role', value: o.form?.role ?? 'viewer', options: ROLE_OPTIONS, errors: issuesAt(issues, 'role') })}
      <div class="field"><button type="submit">Create</button></div>
    </form>
  </section>`;
}

export function profileBody(o: {
  me: AdminUser;
  csrf: string;
  issues?: ValidationIssue[];
  which?: 'telegram' | 'password';
}): SafeHtml {
  const issues = o.issues ?? [];
  const tg = o.which === 'telegram' ? issues : [];
  const pw = o.which === 'password' ? issues : [];
  return html`<div class="grid two">
    <section class="card">
      <h2>Your account</h2>
      <dl class="props">
        <dt>Username</dt><dd>${o.me.username}</dd>
        <dt>Role</dt><dd>${badge(o.me.role)}</dd>
        <dt>Last sign-in</dt><dd>${fmtDate(o.me.last_login_at)}</dd>
      </dl>
      <h3 style="margin-top:1rem">Telegram</h3>
      <p class="muted small">Test broadcasts are sent to this Telegram user id (write to the bot once first, so it may message you).</p>
      <form method="post" action="/admin/profile" class="row">
        ${csrfField(o.csrf)}
        ${field({ label: 'Telegram user id', name: 'telegramUserId', type: 'number', value: o.me.telegram_user_id, errors: issuesAt(tg, 'telegramUserId') })}
        <div class="field"><button type="submit">Save</button></div>
      </form>
    </section>
    <section class="card">
      <h2>Change password</h2>
      <form method="post" action="/admin/profile/password">
        ${csrfField(o.csrf)}
        ${field({ label: 'Current password', name: 'current', type: 'password', required: true, errors: issuesAt(pw, 'current'), autocomplete: 'current-password' })}
        ${field({ label: 'New password (12+ characters)', name: 'password', type: 'password', required: true, errors: issuesAt(pw, 'password'), autocomplete: 'new-password' })}
        <button type="submit">Change password</button>
      </form>
    </section>
  </div>`;
}
