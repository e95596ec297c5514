import type { DashboardStats } from '../../domain/stats/stats.service.js';
import { html, json, type SafeHtml } from '../html.js';
import type { BotHealth, SystemHealth } from '../system-health.js';
import { badge, fmtDate, fmtNum, stat } from './components.js';
import { imagesHealthPiece } from './images-health.view.js';

function checkBadge(c: { status: string; reason?: string }): SafeHtml {
  if (c.status === 'ok') return badge('ok', 'ok');
  if (c.status === 'not_configured') return badge('not configured (in memory)', 'info');
  return html`${badge('error', 'danger')} <span class="small muted">${c.reason ?? ''}</span>`;
}

function llmRow(l: SystemHealth['llm']): SafeHtml {
  const where = html`<span class="muted small">${l.model}${l.baseUrl ? html` at ${l.baseUrl}` : ''}</span>`;
  const state =
    l.source === 'none'
      ? html`${badge('not configured', 'danger')} <span class="small muted">set LLM_BASE_URL: users are told the AI is not available</span>`
      : l.source === 'demo'
        ? html`${badge('demo model', 'warn')} <span class="small muted">not an AI: connect a real model (LLM_BASE_URL, or run Ollama)</span>`
        : l.circuit === 'open'
          ? html`${badge('circuit open', 'danger')} ${where}`
          : l.circuit === 'half-open'
            ? html`${badge('recovering', 'warn')} ${where}`
            : html`${badge(l.source === 'local' ? 'ok (local)' : 'ok', 'ok')} ${where}`;
  const error = l.lastError
    ? html`<div class="small"><span class="muted">last error ${fmtDate(l.lastError.at)}:</span> ${
        l.lastError.config ? html`${badge('configuration', 'danger')} ` : ''
      }${l.lastError.message}</div>`
    : '';
  return html`${state}${error}`;
}

function botRow(b: BotHealth): SafeHtml {
  const last =
    b.lastUpdateAt === undefined
      ? html`<span class="muted small">updates arrive at the bot or api process (its /metrics)</span>`
      : b.lastUpdateAt === null
        ? html`<span class="muted small">no update since this process started</span>`
        : html`<span class="small">last update ${fmtDate(b.lastUpdateAt)}</span>`;
  const hook = b.webhook;
  const webhook = !hook
    ? ''
    : 'error' in hook
      ? html`<div class="small">${badge('webhook info unavailable', 'warn')} ${hook.error}</div>`
      : html`<div class="small"><span data-testid="webhook-pending">${fmtNum(hook.pendingUpdates)}</span> pending${
          hook.lastError
            ? html` · ${badge('last error', 'danger')} ${fmtDate(hook.lastError.at)}: ${hook.lastError.message}`
            : ''
        }</div>`;
  return html`${badge(b.mode, 'info')} ${last}${webhook}`;
}

function chart(
  kind: 'line' | 'bar' | 'doughnut',
  label: string,
  labels: string[],
  values: number[],
  id: string,
) {
  return html`<div class="chart-box"><canvas id="${id}" data-chart="${kind}" data-label="${label}" data-labels="${json(
    labels,
  )}" data-values="${json(values)}" role="img" aria-label="${label}"></canvas></div>`;
}

export function healthCard(h: SystemHealth): SafeHtml {
  const queues = Object.entries(h.queue.counts);
  return html`<section class="card" id="system-health">
    <h2>System health</h2>
    <dl class="props">
      <dt>Database</dt><dd data-testid="health-db">${checkBadge(h.db)}</dd>
      <dt>Redis</dt><dd data-testid="health-redis">${checkBadge(h.redis)}</dd>
      <dt>Job queue</dt><dd>${checkBadge(h.queue.status)} <span class="muted small">${h.queue.kind}</span></dd>
      <dt>AI provider</dt><dd data-testid="health-llm">${llmRow(h.llm)}</dd>
      <dt>Bot</dt><dd data-testid="health-bot">${botRow(h.bot)}</dd>
    </dl>
    <div class="table-wrap" style="margin-top:.75rem">
      <table>
        <thead><tr><th>Queue</th><th class="num">Waiting</th><th class="num">Active</th><th class="num">Delayed</th><th class="num">Failed</th><th>State</th></tr></thead>
        <tbody>
          ${queues.map(
            ([name, c]) =>
              html`<tr><td>${name}</td><td class="num">${fmtNum(c.waiting)}</td><td class="num">${fmtNum(
                c.active,
              )}</td><td class="num">${fmtNum(c.delayed)}</td><td class="num">${fmtNum(c.failed)}</td><td>${
                c.paused ? badge('paused', 'warn') : badge('running', 'ok')
              }</td></tr>`,
          )}
        </tbody>
      </table>
    </div>
    ${imagesHealthPiece(h.images)}
  </section>`;
}

/** `canRecompute`: admins may force a recount; viewers get the cached numbers. */
export function dashboardBody(s: DashboardStats, health: SystemHealth, canRecompute: boolean): SafeHtml {
  const shortDays = s.charts.days.map((d) => d.slice(5));
  return html`
  <div class="grid stats" id="stats">
    ${stat('Users', s.users.total, 'users-total')}
    ${stat('New today', s.users.newToday, 'users-new-today')}
    ${stat('New 7 d', s.users.new7d, 'users-new-7d')}
    ${stat('New 30 d', s.users.new30d, 'users-new-30d')}
    ${stat('DAU', s.active.dau, 'dau')}
    ${stat('WAU', s.active.wau, 'wau')}
    ${stat('MAU', s.active.mau, 'mau')}
    ${stat('Messages today', s.messagesToday, 'messages-today')}
    ${stat('Blocked the bot', s.users.blockedBot, 'users-blocked')}
    ${stat('Banned', s.users.banned, 'users-banned')}
  </div>
  <div class="grid two">
    <section class="card"><h2>New users, 30 days</h2>${chart('bar', 'New users', shortDays, s.charts.newUsers, 'chart-new-users')}</section>
    <section class="card"><h2>Messages from users, 30 days</h2>${chart('line', 'Messages', shortDays, s.charts.messages, 'chart-messages')}</section>
  </div>
  <div hx-get="/admin/payments/revenue" hx-trigger="load" hx-swap="outerHTML"><a href="/admin/payments">Payments and revenue »</a></div>
  <div class="grid two">
    <section class="card">
      <h2>Plans</h2>
      ${chart(
        'doughnut',
        'Plans',
        s.plans.map((p) => p.plan),
        s.plans.map((p) => p.count),
        'chart-plans',
      )}
      <table style="margin-top:.5rem"><tbody>
        ${s.plans.map((p) => html`<tr><td>${p.plan}</td><td class="num" data-testid="plan-${p.plan}">${fmtNum(p.count)}</td></tr>`)}
      </tbody></table>
    </section>
    ${healthCard(health)}
  </div>
  <p class="muted small">Numbers as of ${fmtDate(s.generatedAt)} (cached up to 30 s; days in UTC).${
    canRecompute ? html` <a href="/admin?fresh=1">Recompute now</a>` : ''
  }</p>`;
}
