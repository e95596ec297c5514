import { html, type SafeHtml } from '../html.js';
import type { ImagesHealth } from '../images-health.js';
import { badge, fmtNum } from './components.js';

/** The ComfyUI part of the dashboard's system health: each backend's state and queue. */
export function imagesHealthPiece(h: ImagesHealth): SafeHtml {
  if (!h.enabled) {
    return html`<p class="small muted" style="margin-top:.75rem">Pictures: off (no COMFYUI_URLS).</p>`;
  }
  return html`<div class="table-wrap" style="margin-top:.75rem" data-testid="comfyui-health">
    <table>
      <thead><tr><th>ComfyUI backend</th><th>State</th><th class="num">Queue</th><th class="num hide-sm">VRAM free</th></tr></thead>
      <tbody>
        ${h.backends.map(
          (b) => html`<tr data-backend="${b.name}">
            <td>${b.name}</td>
            <td>${b.status === 'ok' ? badge('up', 'ok') : html`${badge('down', 'danger')} <span class="small muted">${b.reason ?? ''}</span>`}</td>
            <td class="num">${fmtNum(b.queueRemaining)}</td>
            <td class="num hide-sm">${b.vramFreeGb === undefined ? '—' : `${b.vramFreeGb.toFixed(1)} / ${b.vramTotalGb?.toFixed(1)} GB`}</td>
          </tr>`,
        )}
      </tbody>
    </table>
    <p class="small muted">Pictures on their way: <span data-testid="images-open">${fmtNum(h.open)}</span> · <a href="/admin/images">Images</a></p>
  </div>`;
}
