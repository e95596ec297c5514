import type { PaymentDetail, PaymentStats, UserPurchases } from '../../domain/payments/payments.service.js';
import type { Payment, PaymentStatus } from '../../platform/db/schema.js';
import { html, json, type SafeHtml } from '../html.js';
import {
  actionButton,
  type BadgeKind,
  badge,
  field,
  fmtDate,
  fmtNum,
  jsonBlock,
  listTable,
  PAGE_LABELS,
  pager,
  select,
  stat,
} from './components.js';

const STATUS_KIND: Record<PaymentStatus, BadgeKind> = {
  credited: 'ok',
  orphan: 'warn',
  refund_pending: 'info',
  refunded: '',
  refund_failed: 'danger',
};

/** Statuses an admin may refund from (PAYMENT_ALLOWED.requestRefund). */
const REFUNDABLE: readonly PaymentStatus[] = ['credited', 'orphan', 'refund_failed'];

export function paymentStatus(p: Pick<Payment, 'status' | 'orphan_reason'>): SafeHtml {
  return html`${badge(p.status.replace('_', ' '), STATUS_KIND[p.status])}${
    p.orphan_reason ? html` <span class="small muted">${p.orphan_reason.replaceAll('_', ' ')}</span>` : ''
  }`;
}

const STATUSES = [
  ['', 'Any status'],
  ['orphaned', 'Orphaned (any state)'],
  ['credited', 'Credited'],
  ['orphan', 'Orphan, waiting'],
  ['refund_pending', 'Refund pending'],
  ['refunded', 'Refunded'],
  ['refund_failed', 'Refund failed'],
] as const;

export interface PaymentFilter {
  status?: string | undefined;
  product?: string | undefined;
  userId?: number | undefined;
  from?: string | undefined;
  to?: string | undefined;
  beforeId?: number | undefined;
}

export interface PaymentListView {
  filter: PaymentFilter;
  items: Payment[];
  nextCursor: number | null;
  /** Orphans waiting for a decision, shown above everything on the unfiltered first page. */
  orphans: Payment[];
  products: string[];
}

function table(items: Payment[], empty: string, testId: string): SafeHtml {
  return listTable({
    columns: ['ID', 'When', 'User', 'Product', ['Stars', 'num'], 'Status'],
    items,
    row: (p) => html`<tr data-payment-id="${p.id}">
      <td class="mono"><a href="/admin/payments/${p.id}">${p.id}</a></td>
      <td class="nowrap">${fmtDate(p.created_at)}</td>
      <td class="mono"><a href="/admin/users/${p.user_id}">${p.user_id}</a></td>
      <td>${p.product_code ?? html`<span class="muted">—</span>`}${p.is_recurring && !p.is_first_recurring ? html` ${badge('renewal', 'info')}` : ''}</td>
      <td class="num">${fmtNum(p.amount)}</td>
      <td>${paymentStatus(p)}</td>
    </tr>`,
    empty,
    testId,
  });
}

export function paymentsBody(v: PaymentListView): SafeHtml {
  const f = v.filter;
  return html`${
    v.orphans.length
      ? html`<section><h2>Orphans waiting for a decision</h2>
          <p class="muted small">Charges that matched no order they could pay for. Refund them, or grant what was meant by hand on the user's page.</p>
          ${table(v.orphans, '', 'orphans')}</section>`
      : ''
  }
  <form class="filters card" method="get" action="/admin/payments" role="search">
    ${select({ label: 'Status', name: 'status', value: f.status ?? '', options: STATUSES })}
    ${select({ label: 'Product', name: 'product', value: f.product ?? '', options: [['', 'Any product'], ...v.products.map((p) => [p, p] as const)] })}
    ${field({ label: 'User id', name: 'user', type: 'number', value: f.userId })}
    ${field({ label: 'From (UTC)', name: 'from', type: 'date', value: f.from })}
    ${field({ label: 'Until (UTC, inclusive)', name: 'to', type: 'date', value: f.to })}
    <div class="field"><button type="submit">Filter</button></div>
  </form>
  ${table(v.items, 'No payments match.', 'payments')}
  ${pager({
    path: '/admin/payments',
    filters: { status: f.status, product: f.product, from: f.from, to: f.to, user: f.userId },
    onFirstPage: f.beforeId === undefined,
    nextCursor: v.nextCursor,
    labels: PAGE_LABELS,
  })}`;
}

export function paymentDetailBody(d: PaymentDetail, canEdit: boolean, csrf: string): SafeHtml {
  const p = d.payment;
  const o = d.order;
  return html`<div class="grid two">
    <section class="card">
      <h2>Payment</h2>
      <dl class="props">
        <dt>Status</dt><dd data-testid="payment-status">${paymentStatus(p)}</dd>
        <dt>Stars</dt><dd>${fmtNum(p.amount)} ${p.currency}</dd>
        <dt>User</dt><dd><a href="/admin/users/${p.user_id}">${p.user_id}</a></dd>
        <dt>Received</dt><dd>${fmtDate(p.created_at)}</dd>
        <dt>Charge id</dt><dd class="mono small" style="word-break:break-all">${p.telegram_payment_charge_id}</dd>
        <dt>Payload</dt><dd class="mono small">${p.invoice_payload}</dd>
        ${p.is_recurring ? html`<dt>Subscription</dt><dd>${p.is_first_recurring ? 'first payment' : 'renewal'}, paid until ${fmtDate(p.subscription_expires_at)}</dd>` : ''}
        ${p.refund_requested_at ? html`<dt>Refund asked</dt><dd>${fmtDate(p.refund_requested_at)} by ${p.refund_source ?? '—'} (${p.refund_attempts} calls)</dd>` : ''}
        ${p.refunded_at ? html`<dt>Refunded</dt><dd>${fmtDate(p.refunded_at)}</dd>` : ''}
        ${p.refund_error ? html`<dt>Refund error</dt><dd>${p.refund_error}</dd>` : ''}
      </dl>
      ${
        canEdit && REFUNDABLE.includes(p.status)
          ? actionButton({
              action: `/admin/payments/${p.id}/refund`,
              label: `Refund ${p.amount} ⭐`,
              csrf,
              kind: 'danger',
              confirm: `Refund ${p.amount} Stars to user ${p.user_id}? What the payment granted is taken back.`,
            })
          : ''
      }
    </section>
    <section class="card">
      <h2>Order</h2>
      ${
        o
          ? html`<dl class="props">
              <dt>Order</dt><dd class="mono">${o.id}</dd>
              <dt>Product</dt><dd>${o.product_code} (${o.kind}) — ${o.title}</dd>
              <dt>Price</dt><dd>${fmtNum(o.price)} ${o.currency}</dd>
              ${o.plan ? html`<dt>Plan</dt><dd>${o.plan}${o.days ? ` for ${o.days} days` : ' (monthly)'}</dd>` : ''}
              ${o.images ? html`<dt>Images</dt><dd>${fmtNum(o.images)}</dd>` : ''}
              <dt>Order status</dt><dd>${o.status}</dd>
              <dt>Created</dt><dd>${fmtDate(o.created_at)}</dd>
              <dt>Expires</dt><dd>${fmtDate(o.expires_at)}</dd>
            </dl>`
          : html`<p class="muted">No order matched this payment.</p>`
      }
      <h3>What it granted</h3>
      ${jsonBlock(p.grant)}
    </section>
  </div>
  <section class="card"><h2>Update from Telegram</h2>${jsonBlock(p.raw_update)}</section>`;
}

/** The dashboard's revenue card (loaded by htmx from the dashboard). */
export function revenueCard(s: PaymentStats): SafeHtml {
  const days = s.days.map((d) => d.slice(5));
  return html`<section class="card" id="revenue">
    <h2>Revenue (Telegram Stars)</h2>
    <div class="grid stats">
      ${stat('Stars, 30 d', s.stars30d, 'stars-30d')}
      ${stat('Refunded, 30 d', s.refunded30d, 'refunded-30d')}
      ${stat('Paying users, 30 d', s.payingUsers30d, 'paying-30d')}
      ${stat('Paying users', s.payingUsersTotal, 'paying-total')}
      ${stat('Conversion from free', `${s.conversionPercent}%`, 'conversion')}
      ${stat('Orphans waiting', s.open.orphan ?? 0, 'orphans-open')}
    </div>
    <div class="chart-box"><canvas id="chart-revenue" data-chart="bar" data-label="Stars" data-labels="${json(days)}" data-values="${json(s.stars)}" role="img" aria-label="Stars per day"></canvas></div>
    <p class="small"><a href="/admin/payments">All payments »</a></p>
  </section>`;
}

/** A user's purchases and entitlements on their page. */
export function userPurchasesCard(u: UserPurchases): SafeHtml {
  const star = u.starSubscriptions[0];
  return html`<section class="card" id="purchases">
    <h2>Payments and entitlements</h2>
    <dl class="props">
      <dt>Purchased images left</dt><dd data-testid="user-purchased-images">${fmtNum(u.purchasedImagesLeft)}</dd>
      <dt>Star subscription</dt><dd>${
        star
          ? html`${star.product_code}: ${star.status}, paid until ${fmtDate(star.period_end)}${star.renewal_canceled_at ? ' (renewal cancelled)' : ''}`
          : 'none'
      }</dd>
      <dt>Packs</dt><dd>${
        u.packs.length
          ? u.packs.map(
              (p) =>
                html`<div>${fmtNum(p.images_left)} of ${fmtNum(p.images_total)}${p.refunded_at ? ' (refunded)' : ''}, bought ${fmtDate(p.created_at)}</div>`,
            )
          : 'none'
      }</dd>
    </dl>
    ${table(u.payments, 'No payments.', 'user-payments')}
  </section>`;
}
