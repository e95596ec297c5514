import type { ValidationIssue } from '../../platform/errors.js';
import { type HtmlValue, html, json, type SafeHtml } from '../html.js';

export function fmtNum(n: number | null | undefined): string {
  return n === null || n === undefined ? '—' : n.toLocaleString('en-US');
}

/** A timestamp in UTC, rewritten to the browser's zone by admin.js. */
export function fmtDate(d: Date | string | null | undefined): SafeHtml {
  if (!d) return html`<span class="muted">—</span>`;
  const date = typeof d === 'string' ? new Date(d) : d;
  const iso = date.toISOString();
  return html`<time datetime="${iso}" data-local>${iso.slice(0, 16).replace('T', ' ')} UTC</time>`;
}

export type BadgeKind = 'ok' | 'danger' | 'warn' | 'info' | '';

export function badge(text: string, kind: BadgeKind = ''): SafeHtml {
  return html`<span class="badge ${kind}">${text}</span>`;
}

export function notice(kind: 'ok' | 'error' | 'info', text: HtmlValue): SafeHtml {
  return html`<div class="notice ${kind}" role="${kind === 'error' ? 'alert' : 'status'}">${text}</div>`;
}

type ListFilters = Record<string, string | number | undefined>;

/** A list's filters as a query string (`?a=1&b=2`, or '' with none); empty ones are left out. */
function listQuery(filters: ListFilters): string {
  const q = new URLSearchParams();
  for (const [name, value] of Object.entries(filters))
    if (value !== undefined && value !== '') q.set(name, String(value));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** A header cell: its label, or the label and a class (`num` right-aligns, `hide-sm` hides on phones). */
type Column = string | readonly [label: string, cls: string];

/**
 * A list as a table filling a card: a header cell per column, a row per item, and `empty` across
 * the whole width when there is none.
 */
export function listTable<T>(o: {
  columns: readonly Column[];
  items: readonly T[];
  row: (item: T) => SafeHtml;
  empty: HtmlValue;
  testId?: string;
}): SafeHtml {
  const head = o.columns.map((c) =>
    typeof c === 'string' ? html`<th>${c}</th>` : html`<th class="${c[1]}">${c[0]}</th>`,
  );
  return html`<div class="card table-wrap" style="padding:0"><table${o.testId ? html` data-testid="${o.testId}"` : ''}>
    <thead><tr>${head}</tr></thead>
    <tbody>${o.items.length ? o.items.map(o.row) : html`<tr><td colspan="${o.columns.length}" class="muted">${o.empty}</td></tr>`}</tbody>
  </table></div>`;
}

/** Labels of a pager over a searched list (the others run from the newest entry back). */
export const PAGE_LABELS = ['« First page', 'Next page »'] as const;

/**
 * Keyset paging under a list: back to the first page unless on it, on to the next page when there
 * is one (its rows come `before` the cursor). The list's filters ride along in both links.
 */
export function pager(o: {
  path: string;
  filters: ListFilters;
  onFirstPage: boolean;
  nextCursor: number | null;
  labels?: readonly [first: string, next: string];
}): SafeHtml {
  const [first, next] = o.labels ?? ['« Newest', 'Older »'];
  return html`<div class="pager">
    ${o.onFirstPage ? html`<span></span>` : html`<a href="${o.path}${listQuery(o.filters)}">${first}</a>`}
    ${o.nextCursor !== null ? html`<a class="button secondary" href="${o.path}${listQuery({ ...o.filters, before: o.nextCursor })}" data-testid="next-page">${next}</a>` : ''}
  </div>`;
}

/** Messages of the issues at exactly this path. */
export function issuesAt(issues: readonly ValidationIssue[] | undefined, path: string): string[] {
  return (issues ?? []).filter((i) => i.path === path).map((i) => i.message);
}

export interface FieldOptions {
  label: string;
  name: string;
  value?: string | number | null | undefined;
  type?: 'text' | 'password' | 'number' | 'textarea' | 'url' | 'datetime-local' | 'date' | 'search';
  errors?: string[];
  hint?: string;
  required?: boolean;
  rows?: number;
  attrs?: SafeHtml;
  autocomplete?: string;
  id?: string;
}

export function field(o: FieldOptions): SafeHtml {
  const id = o.id ?? `f-${o.name.replace(/[^A-Za-z0-9_-]/g, '-')}`;
  const errors = o.errors ?? [];
  const value = o.value === null || o.value === undefined ? '' : String(o.value);
  const describedBy = errors.length ? `${id}-err` : undefined;
  const input =
    o.type === 'textarea'
      ? html`<textarea id="${id}" name="${o.name}" rows="${o.rows ?? 4}" ${o.required ? html`required` : ''} ${
          describedBy ? html`aria-invalid="true" aria-describedby="${describedBy}"` : ''
        } ${o.attrs}>${value}</textarea>`
      : html`<input id="${id}" type="${o.type ?? 'text'}" name="${o.name}" value="${value}" ${
          o.required ? html`required` : ''
        } ${o.autocomplete ? html`autocomplete="${o.autocomplete}"` : ''} ${
          describedBy ? html`aria-invalid="true" aria-describedby="${describedBy}"` : ''
        } ${o.attrs}>`;
  return html`<div class="field ${errors.length ? 'invalid' : ''}">
    <label for="${id}">${o.label}</label>
    ${input}
    ${o.hint ? html`<div class="hint">${o.hint}</div>` : ''}
    ${errors.length ? html`<div class="error" id="${describedBy}">${errors.join(' · ')}</div>` : ''}
  </div>`;
}

export function select(o: {
  label: string;
  name: string;
  value: string | undefined;
  options: readonly (readonly [string, string])[];
  errors?: string[];
  attrs?: SafeHtml;
}): SafeHtml {
  const id = `f-${o.name}`;
  const errors = o.errors ?? [];
  return html`<div class="field ${errors.length ? 'invalid' : ''}">
    <label for="${id}">${o.label}</label>
    <select id="${id}" name="${o.name}" ${o.attrs}>
      ${o.options.map(([v, text]) => html`<option value="${v}" ${v === o.value ? html`selected` : ''}>${text}</option>`)}
    </select>
    ${errors.length ? html`<div class="error">${errors.join(' · ')}</div>` : ''}
  </div>`;
}

export function csrfField(token: string): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${token}">`;
}

/** A one-button form posting to `action` (works without JavaScript). */
export function actionButton(o: {
  action: string;
  label: string;
  csrf: string;
  kind?: 'danger' | 'secondary' | '';
  confirm?: string;
  /** Ask with the audience's recipient count, counted when pressed (`{count}` in the question). */
  confirmCount?: { question: string; audience: unknown };
  fields?: Record<string, string>;
  disabled?: boolean;
}): SafeHtml {
  return html`<form method="post" action="${o.action}" class="inline-form" ${
    o.confirm ? html`data-confirm="${o.confirm}"` : ''
  } ${
    o.confirmCount
      ? html`data-confirm-count="${o.confirmCount.question}" data-audience="${json(o.confirmCount.audience)}"`
      : ''
  }>
    ${csrfField(o.csrf)}
    ${Object.entries(o.fields ?? {}).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)}
    <button type="submit" class="${o.kind ?? ''}" ${o.disabled ? html`disabled` : ''}>${o.label}</button>
  </form>`;
}

export function stat(label: string, value: number | string, testId?: string): SafeHtml {
  return html`<div class="stat"><div class="label">${label}</div><div class="value" ${
    testId ? html`data-testid="${testId}"` : ''
  }>${typeof value === 'number' ? fmtNum(value) : value}</div></div>`;
}

export function jsonBlock(value: unknown): SafeHtml {
  if (value === null || value === undefined) return html`<span class="muted">—</span>`;
  return html`<pre class="json">${JSON.stringify(value, null, 2)}</pre>`;
}
