import type { AdminUser } from '../../platform/db/schema.js';
import { type HtmlValue, html, json, type SafeHtml } from '../html.js';
import { csrfField, field, notice } from './components.js';

export type Section =
  | 'dashboard'
  | 'users'
  | 'broadcasts'
  | 'payments'
  | 'images'
  | 'settings'
  | 'queues'
  | 'audit'
  | 'admins'
  | 'profile';

const NAV: { section: Section; href: string; label: string; owner?: boolean }[] = [
  { section: 'dashboard', href: '/admin', label: 'Dashboard' },
  { section: 'users', href: '/admin/users', label: 'Users' },
  { section: 'broadcasts', href: '/admin/broadcasts', label: 'Broadcasts' },
  { section: 'payments', href: '/admin/payments', label: 'Payments' },
  { section: 'images', href: '/admin/images', label: 'Images' },
  { section: 'settings', href: '/admin/settings', label: 'Settings' },
  { section: 'queues', href: '/admin/queues', label: 'Queues' },
  { section: 'audit', href: '/admin/audit', label: 'Audit log' },
  { section: 'admins', href: '/admin/admins', label: 'Admins', owner: true },
];

/**
 * htmx swaps 422 answers too (forms re-rendered with their errors); eval and script tags in
 * swapped content stay off, as the CSP would refuse them anyway.
 */
const HTMX_CONFIG = json({
  allowEval: false,
  allowScriptTags: false,
  includeIndicatorStyles: false,
  responseHandling: [
    { code: '204', swap: false },
    { code: '[23]..', swap: true },
    { code: '422', swap: true },
    { code: '[45]..', swap: false, error: true },
  ],
});

export interface PageContext {
  admin: AdminUser;
  csrf: string;
}

export interface PageOptions {
  title: string;
  section: Section;
  body: HtmlValue;
  /** Result of the last action (from a redirect), shown above the page. */
  flash?: { kind: 'ok' | 'error' | 'info'; text: string } | undefined;
  /** Loads chart.js (only the dashboard needs it). */
  charts?: boolean;
  actions?: HtmlValue;
}

function head(title: string, charts: boolean): SafeHtml {
  return html`<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="robots" content="noindex">
  <meta name="htmx-config" content="${HTMX_CONFIG}">
  <title>${title} · Vitte admin</title>
  <link rel="icon" href="/admin/assets/favicon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="/admin/assets/admin.css">
  <script src="/admin/assets/vendor/htmx.min.js" defer></script>
  ${charts ? html`<script src="/admin/assets/vendor/chart.umd.min.js" defer></script>` : ''}
  <script src="/admin/assets/admin.js" defer></script>
</head>`;
}

export function page(ctx: PageContext, o: PageOptions): SafeHtml {
  const nav = NAV.filter((n) => !n.owner || ctx.admin.role === 'owner');
  return html`<!doctype html>
<html lang="en">
${head(o.title, o.charts ?? false)}
<body hx-headers="${json({ 'x-csrf-token': ctx.csrf })}">
  <header class="topbar">
    <a class="brand" href="/admin">Vitte admin</a>
    <nav class="nav" aria-label="Sections">
      ${nav.map(
        (n) =>
          html`<a href="${n.href}" class="${n.section === o.section ? 'active' : ''}" ${
            n.section === o.section ? html`aria-current="page"` : ''
          }>${n.label}</a>`,
      )}
    </nav>
    <div class="who">
      <a href="/admin/profile" class="${o.section === 'profile' ? 'active' : ''}" style="color:inherit" data-testid="whoami">${ctx.admin.username}</a>
      <span class="badge">${ctx.admin.role}</span>
      <form method="post" action="/admin/logout">${csrfField(ctx.csrf)}<button class="secondary" type="submit">Sign out</button></form>
    </div>
  </header>
  <main class="container">
    <div class="page-head"><h1>${o.title}</h1>${o.actions ? html`<div class="actions">${o.actions}</div>` : ''}</div>
    <div id="flash" ${o.flash ? '' : html`hidden`} class="${o.flash ? `notice ${o.flash.kind}` : ''}">${o.flash?.text ?? ''}</div>
    ${o.body}
  </main>
</body>
</html>`;
}

export function loginPage(o: { csrf: string; next: string; username?: string; error?: string }): SafeHtml {
  return html`<!doctype html>
<html lang="en">
${head('Sign in', false)}
<body>
  <main class="login-wrap">
    <div class="card login">
      <h1>Vitte admin</h1>
      ${o.error ? notice('error', o.error) : ''}
      <form method="post" action="/admin/login">
        ${csrfField(o.csrf)}
        <input type="hidden" name="next" value="${o.next}">
        ${field({ label: 'Username', name: 'username', value: o.username, required: true, autocomplete: 'username' })}
        ${field({ label: 'Password', name: 'password', type: 'password', required: true, autocomplete: 'current-password' })}
        <button type="submit" style="width:100%">Sign in</button>
      </form>
    </div>
  </main>
</body>
</html>`;
}

export function errorPage(ctx: PageContext | undefined, status: number, message: string): SafeHtml {
  const body = html`${notice('error', message)}<p><a href="/admin">Back to the dashboard</a></p>`;
  if (!ctx) {
    return html`<!doctype html><html lang="en">${head('Error', false)}<body><main class="container"><h1>Error ${status}</h1>${body}</main></body></html>`;
  }
  return page(ctx, { title: `Error ${status}`, section: 'dashboard', body });
}
