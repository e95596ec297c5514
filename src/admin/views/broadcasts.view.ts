import type { BroadcastProgress } from '../../domain/broadcasts/broadcasts.service.js';
import type { Broadcast, BroadcastAudience, BroadcastStatus } from '../../platform/db/schema.js';
import type { ValidationIssue } from '../../platform/errors.js';
import { html, type SafeHtml } from '../html.js';
import {
  actionButton,
  type BadgeKind,
  badge,
  csrfField,
  field,
  fmtDate,
  fmtNum,
  issuesAt,
  listTable,
  notice,
  pager,
  select,
} from './components.js';
import { previewBubble } from './telegram-preview.js';

const STATUS_KIND: Record<BroadcastStatus, BadgeKind> = {
  draft: '',
  scheduled: 'info',
  running: 'ok',
  paused: 'warn',
  completed: 'ok',
  cancelled: 'danger',
};

export function statusBadge(s: BroadcastStatus): SafeHtml {
  return badge(s, STATUS_KIND[s]);
}

export function audienceText(a: BroadcastAudience): string {
  switch (a.kind) {
    case 'all':
      return 'Everyone';
    case 'active':
      return `Active in the last ${a.days} d`;
    case 'plan':
      return `Plan: ${a.plan}`;
    case 'language':
      return `Language: ${a.language}`;
  }
}

export function broadcastsBody(o: {
  items: Broadcast[];
  nextCursor: number | null;
  first: boolean;
  canEdit: boolean;
}): SafeHtml {
  return html`${listTable({
    columns: ['#', 'Text', 'Audience', 'Status', ['Recipients', 'num'], ['Created', 'hide-sm']],
    items: o.items,
    row: (b) => html`<tr data-broadcast-id="${b.id}">
      <td><a href="/admin/broadcasts/${b.id}">${b.id}</a></td>
      <td><a href="/admin/broadcasts/${b.id}">${b.text.replace(/<[^>]*>/g, '').slice(0, 80)}</a></td>
      <td>${audienceText(b.audience)}</td>
      <td>${statusBadge(b.status)}${b.status === 'scheduled' && b.scheduled_at ? html` <span class="small muted">${fmtDate(b.scheduled_at)}</span>` : ''}</td>
      <td class="num">${b.total_recipients ? fmtNum(b.total_recipients) : '—'}</td>
      <td class="hide-sm nowrap">${fmtDate(b.created_at)} <span class="muted small">${b.created_by ?? ''}</span></td>
    </tr>`,
    empty: html`No broadcasts yet.${o.canEdit ? html` <a href="/admin/broadcasts/new">Compose one</a>.` : ''}`,
  })}
  ${pager({ path: '/admin/broadcasts', filters: {}, onFirstPage: o.first, nextCursor: o.nextCursor })}`;
}

/** What the composer form holds (strings, as posted). */
export interface ComposeForm {
  text?: string;
  photo?: string;
  buttonText?: string;
  buttonUrl?: string;
  audience?: string;
  days?: string;
  plan?: string;
  language?: string;
  scheduledAt?: string;
}

export function previewPanel(o: { form: ComposeForm; issues: ValidationIssue[] }): SafeHtml {
  const contentIssues = o.issues.filter((i) => ['text', 'photo', 'buttonText', 'buttonUrl'].includes(i.path));
  return html`${contentIssues.length ? notice('error', contentIssues.map((i) => `${i.path}: ${i.message}`).join(' · ')) : ''}
    <div class="tg-preview">${previewBubble({
      text: o.form.text ?? '',
      photo: o.form.photo ?? null,
      buttonText: o.form.buttonText ?? null,
      buttonUrl: o.form.buttonUrl ?? null,
    })}</div>`;
}

/** Starting sends to real people at once: the question names how many (admin.js counts them). */
const START_QUESTION = 'Start sending this broadcast to {count} recipients now? This cannot be undone.';

export function audienceCount(o: { count?: number; error?: string }): SafeHtml {
  if (o.error) return html`<span class="error-text">${o.error}</span>`;
  return html`<strong data-testid="audience-count">${fmtNum(o.count ?? 0)}</strong> recipients right now <span class="muted small">(banned users, users who blocked the bot or turned notifications off are excluded)</span>`;
}

export function composeBody(o: {
  form: ComposeForm;
  issues: ValidationIssue[];
  plans: string[];
  csrf: string;
  count?: number | undefined;
  countError?: string | undefined;
  testResult?: SafeHtml | undefined;
  telegramUserId: number | null;
}): SafeHtml {
  const f = o.form;
  const at = (p: string) => issuesAt(o.issues, p);
  const audienceErrors = o.issues.filter((i) => i.path.startsWith('audience')).map((i) => i.message);
  return html`<form method="post" action="/admin/broadcasts" id="compose" class="composer">
    <div>
      <section class="card">
        ${csrfField(o.csrf)}
        ${field({
          label: 'Text (Telegram HTML)',
          name: 'text',
          type: 'textarea',
          rows: 8,
          value: f.text,
          errors: at('text'),
          hint: 'Allowed: <b>, <i>, <u>, <s>, <a href>, <code>, <pre>, <blockquote>, <tg-spoiler>. Escape < > & as &lt; &gt; &amp;.',
        })}
        ${field({ label: 'Photo (URL or file_id, optional)', name: 'photo', value: f.photo, errors: at('photo'), hint: 'With a photo the text is its caption (up to 1024 characters).' })}
        <div class="row">
          ${field({ label: 'Button text (optional)', name: 'buttonText', value: f.buttonText, errors: at('buttonText') })}
          ${field({ label: 'Button URL', name: 'buttonUrl', type: 'url', value: f.buttonUrl, errors: at('buttonUrl') })}
        </div>
      </section>
      <section class="card" id="audience-fields">
        <h2>Audience</h2>
        <div class="row">
          ${select({
            label: 'Who',
            name: 'audience',
            value: f.audience ?? 'all',
            options: [
              ['all', 'Everyone'],
              ['active', 'Active in the last N days'],
              ['plan', 'On a plan'],
              ['language', 'By language'],
            ],
          })}
          ${field({ label: 'Days (for "active")', name: 'days', type: 'number', value: f.days ?? '7' })}
          ${select({ label: 'Plan (for "on a plan")', name: 'plan', value: f.plan, options: o.plans.map((p) => [p, p] as const) })}
          ${field({ label: 'Language (for "by language")', name: 'language', value: f.language ?? 'ru', hint: 'e.g. ru, en' })}
        </div>
        ${audienceErrors.length ? html`<div class="error-text">${audienceErrors.join(' · ')}</div>` : ''}
        <p id="audience-count" hx-post="/admin/broadcasts/audience" hx-trigger="load, change from:#audience-fields, input changed delay:500ms from:#audience-fields" hx-include="#compose">
          ${audienceCount({ ...(o.count !== undefined ? { count: o.count } : {}), ...(o.countError ? { error: o.countError } : {}) })}
        </p>
      </section>
      <section class="card">
        <h2>Send</h2>
        ${field({ label: 'Schedule for (UTC, optional)', name: 'scheduledAt', type: 'datetime-local', value: f.scheduledAt, errors: at('scheduledAt') })}
        <div class="actions">
          <button type="submit" name="intent" value="draft" class="secondary">Save draft</button>
          <button type="submit" name="intent" value="schedule" class="secondary">Schedule</button>
          <button type="submit" name="intent" value="start" data-testid="start-now" data-confirm-count="${START_QUESTION}">Start now</button>
          <button type="submit" formaction="/admin/broadcasts/test-send" hx-post="/admin/broadcasts/test-send" hx-target="#test-result" class="secondary" ${
            o.telegramUserId
              ? ''
              : html`disabled title="Set your Telegram user id on your profile page first"`
          }>Send a test to me</button>
        </div>
        <div id="test-result" style="margin-top:.75rem">${o.testResult ?? ''}</div>
        ${o.telegramUserId ? '' : html`<p class="muted small">To send yourself a test, set your Telegram user id on <a href="/admin/profile">your profile</a>.</p>`}
      </section>
    </div>
    <aside class="card">
      <h2>Preview</h2>
      <div id="preview" hx-post="/admin/broadcasts/preview" hx-trigger="input changed delay:300ms from:#compose" hx-include="#compose">
        ${previewPanel({ form: f, issues: o.issues })}
      </div>
    </aside>
  </form>`;
}

export function progressPanel(b: Broadcast, p: BroadcastProgress): SafeHtml {
  const done = p.sent + p.blocked + p.failed + p.cancelled;
  const pct = p.total ? Math.round((done / p.total) * 100) : b.status === 'completed' ? 100 : 0;
  const live = b.status === 'running' || b.status === 'scheduled' || (b.status === 'paused' && p.sending > 0);
  return html`<section class="card" id="progress" ${
    live
      ? html`hx-get="/admin/broadcasts/${b.id}/progress?shown=${b.status}" hx-trigger="every 2s" hx-swap="outerHTML"`
      : ''
  } data-status="${b.status}">
    <h2>Progress ${statusBadge(b.status)}</h2>
    <div class="progress" role="progressbar" aria-valuenow="${pct}" aria-valuemin="0" aria-valuemax="100"><span style="width:${pct}%"></span></div>
    <div class="grid stats" style="margin:0">
      <div class="stat"><div class="label">Recipients</div><div class="value" data-testid="progress-total">${fmtNum(p.total)}</div></div>
      <div class="stat"><div class="label">Sent</div><div class="value" data-testid="progress-sent">${fmtNum(p.sent)}</div></div>
      <div class="stat"><div class="label">Pending</div><div class="value">${fmtNum(p.pending + p.sending)}</div></div>
      <div class="stat"><div class="label">Blocked</div><div class="value">${fmtNum(p.blocked)}</div></div>
      <div class="stat"><div class="label">Failed</div><div class="value">${fmtNum(p.failed)}</div></div>
      <div class="stat"><div class="label">Cancelled</div><div class="value">${fmtNum(p.cancelled)}</div></div>
    </div>
    ${live ? html`<p class="muted small">Updates every 2 s.</p>` : ''}
  </section>`;
}

export function broadcastBody(o: {
  b: Broadcast;
  progress: BroadcastProgress;
  csrf: string;
  canEdit: boolean;
}): SafeHtml {
  const { b } = o;
  const base = `/admin/broadcasts/${b.id}`;
  const can = (...s: BroadcastStatus[]) => o.canEdit && s.includes(b.status);
  return html`<div class="composer">
    <div>
      ${progressPanel(b, o.progress)}
      <section class="card">
        <h2>Details</h2>
        <dl class="props">
          <dt>Audience</dt><dd>${audienceText(b.audience)}</dd>
          <dt>Created</dt><dd>${fmtDate(b.created_at)} by ${b.created_by ?? '—'}</dd>
          <dt>Scheduled</dt><dd>${fmtDate(b.scheduled_at)}</dd>
          <dt>Started</dt><dd>${fmtDate(b.started_at)}</dd>
          <dt>Finished</dt><dd>${fmtDate(b.finished_at)}</dd>
        </dl>
      </section>
      ${
        can('draft', 'scheduled', 'running', 'paused')
          ? html`<section class="card">
          <h2>Actions</h2>
          <div class="actions">
            ${can('draft', 'scheduled') ? actionButton({ action: `${base}/start`, label: 'Start now', csrf: o.csrf, confirmCount: { question: START_QUESTION, audience: b.audience } }) : ''}
            ${can('running') ? actionButton({ action: `${base}/pause`, label: 'Pause', csrf: o.csrf, kind: 'secondary' }) : ''}
            ${can('paused') ? actionButton({ action: `${base}/resume`, label: 'Resume', csrf: o.csrf }) : ''}
            ${can('draft', 'scheduled', 'running', 'paused') ? actionButton({ action: `${base}/cancel`, label: 'Cancel', csrf: o.csrf, kind: 'danger', confirm: 'Cancel this broadcast? Messages not sent yet will not be sent.' }) : ''}
          </div>
          ${
            can('draft', 'scheduled')
              ? html`<form method="post" action="${base}/schedule" class="row" style="margin-top:1rem">
                  ${csrfField(o.csrf)}
                  ${field({ label: 'Schedule for (UTC)', name: 'at', type: 'datetime-local', required: true })}
                  <div class="field"><button type="submit" class="secondary">Schedule</button></div>
                </form>`
              : ''
          }
        </section>`
          : ''
      }
    </div>
    <aside class="card">
      <h2>Message</h2>
      <div class="tg-preview">${previewBubble({ text: b.text, photo: b.photo, buttonText: b.button_text, buttonUrl: b.button_url })}</div>
    </aside>
  </div>`;
}
