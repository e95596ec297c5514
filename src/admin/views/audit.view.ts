import type { AdminAuditEntry } from '../../platform/db/schema.js';
import { html, type SafeHtml } from '../html.js';
import { field, fmtDate, jsonBlock, listTable, pager } from './components.js';

function target(a: AdminAuditEntry): SafeHtml | string {
  if (!a.target_type) return '—';
  if (a.target_type === 'user')
    return html`<a href="/admin/users/${a.target_id ?? ''}">user ${a.target_id}</a>`;
  if (a.target_type === 'broadcast')
    return html`<a href="/admin/broadcasts/${a.target_id ?? ''}">broadcast ${a.target_id}</a>`;
  return `${a.target_type} ${a.target_id ?? ''}`;
}

export function auditBody(o: {
  entries: AdminAuditEntry[];
  action: string | undefined;
  nextCursor: number | null;
  first: boolean;
}): SafeHtml {
  return html`<form class="filters card" method="get" action="/admin/audit">
    ${field({ label: 'Action', name: 'action', value: o.action, hint: 'e.g. user.ban, setting.update, broadcast.start' })}
    <div class="field"><button type="submit">Filter</button></div>
  </form>
  ${listTable({
    columns: ['When', 'Who', 'Action', 'Target', ['IP', 'hide-sm'], 'Change'],
    items: o.entries,
    row: (a) => html`<tr data-audit-id="${a.id}">
      <td class="nowrap">${fmtDate(a.created_at)}</td>
      <td>${a.admin_username}</td>
      <td><code>${a.action}</code></td>
      <td>${target(a)}</td>
      <td class="hide-sm mono small">${a.ip ?? ''}</td>
      <td>${
        a.before === null && a.after === null
          ? html`<span class="muted">—</span>`
          : html`<details><summary>before / after</summary>
              <div class="small muted">Before</div>${jsonBlock(a.before)}
              <div class="small muted">After</div>${jsonBlock(a.after)}
            </details>`
      }</td>
    </tr>`,
    empty: 'Nothing recorded.',
  })}
  ${pager({ path: '/admin/audit', filters: { action: o.action }, onFirstPage: o.first, nextCursor: o.nextCursor })}`;
}
