import type { QueueCounts, ScheduleInfo } from '../../platform/queue/index.js';
import { html, type SafeHtml } from '../html.js';
import { badge, fmtDate, fmtNum } from './components.js';

/** The in-process queue (no Redis): counts and schedules only. */
export function queuesBody(counts: Record<string, QueueCounts>, schedules: ScheduleInfo[]): SafeHtml {
  return html`<p class="notice info">The job queue runs in this process (no REDIS_URL), so there is no bull-board. Set REDIS_URL to run BullMQ and get the full queue board here.</p>
  <section class="card table-wrap">
    <h2>Queues</h2>
    <table>
      <thead><tr><th>Queue</th><th class="num">Waiting</th><th class="num">Active</th><th class="num">Delayed</th><th class="num">Failed</th><th class="num">Completed</th><th>State</th></tr></thead>
      <tbody>${Object.entries(counts).map(
        ([name, c]) =>
          html`<tr><td>${name}</td><td class="num">${fmtNum(c.waiting)}</td><td class="num">${fmtNum(c.active)}</td><td class="num">${fmtNum(
            c.delayed,
          )}</td><td class="num">${fmtNum(c.failed)}</td><td class="num">${fmtNum(c.completed)}</td><td>${
            c.paused ? badge('paused', 'warn') : badge('running', 'ok')
          }</td></tr>`,
      )}</tbody>
    </table>
  </section>
  <section class="card table-wrap">
    <h2>Schedules</h2>
    <table>
      <thead><tr><th>Job</th><th>Queue</th><th>Cron</th><th>Next run</th></tr></thead>
      <tbody>${
        schedules.length
          ? schedules.map(
              (s) =>
                html`<tr><td><code>${s.name}</code></td><td>${s.queue}</td><td class="mono">${s.cron}</td><td>${fmtDate(s.next)}</td></tr>`,
            )
          : html`<tr><td colspan="4" class="muted">No schedules (the worker registers them when it starts).</td></tr>`
      }</tbody>
    </table>
  </section>`;
}
