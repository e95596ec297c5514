import type { ImageJobListItem } from '../../domain/images/image-jobs.repository.js';
import type { ImageJobStatus } from '../../platform/db/schema.js';
import { html, type SafeHtml } from '../html.js';
import { type BadgeKind, badge, field, fmtDate, pager, select } from './components.js';

/** A job with a signed link to its picture (null when nothing was stored). */
export type GalleryItem = ImageJobListItem & { url: string | null };

export const IMAGE_STATUSES: ImageJobStatus[] = [
  'queued',
  'running',
  'delivering',
  'succeeded',
  'undelivered',
  'failed',
  'cancelled',
  'timed_out',
];

const KIND: Record<ImageJobStatus, BadgeKind> = {
  queued: 'info',
  running: 'info',
  delivering: 'info',
  succeeded: 'ok',
  undelivered: 'warn',
  failed: 'danger',
  cancelled: '',
  timed_out: 'danger',
};

/** Seconds from a worker taking the picture to its end (or to now, while it is on its way). */
function duration(j: ImageJobListItem): string {
  if (!j.started_at) return '—';
  const end = j.finished_at ?? new Date();
  return `${((end.getTime() - j.started_at.getTime()) / 1000).toFixed(1)} s`;
}

function card(j: GalleryItem, showUser: boolean): SafeHtml {
  return html`<figure class="card gallery-item" data-image-id="${j.id}" data-status="${j.status}">
    ${
      j.url
        ? html`<a href="${j.url}" target="_blank" rel="noopener"><img src="${j.url}" alt="${j.prompt ?? ''}" loading="lazy" width="${j.params.width ?? 512}" height="${j.params.height ?? 512}"></a>`
        : html`<div class="gallery-empty muted small">no picture</div>`
    }
    <figcaption>
      <div>${badge(j.status.replace('_', ' '), KIND[j.status])}${j.nsfw ? html` ${badge('nsfw', 'warn')}` : ''} <span class="small muted">#${j.id} · ${j.source}</span></div>
      <p class="prompt">${j.prompt ?? html`<span class="muted">(prompt not written yet)</span>`}</p>
      <div class="small muted">
        ${showUser ? html`<a href="/admin/users/${j.user_id}">${j.first_name}${j.username ? ` @${j.username}` : ''}</a> · ` : ''}${j.backend ?? 'no backend'} · ${duration(j)}${j.run > 1 ? ` · run ${j.run}` : ''}
      </div>
      <div class="small">${fmtDate(j.queued_at)}</div>
      ${j.error && j.status !== 'succeeded' ? html`<div class="small error-text">${j.error}</div>` : ''}
    </figcaption>
  </figure>`;
}

/** Pictures as a grid of cards, newest first. */
export function imageGallery(items: GalleryItem[], opts: { showUser: boolean }): SafeHtml {
  if (!items.length) return html`<p class="muted">No pictures yet.</p>`;
  return html`<div class="gallery">${items.map((j) => card(j, opts.showUser))}</div>`;
}

export function imagesBody(o: {
  items: GalleryItem[];
  status: ImageJobStatus | undefined;
  userId: number | undefined;
  nextCursor: number | null;
  first: boolean;
}): SafeHtml {
  return html`<form class="filters card" method="get" action="/admin/images">
    ${select({ label: 'Status', name: 'status', value: o.status ?? '', options: [['', 'Any status'], ...IMAGE_STATUSES.map((s) => [s, s.replace('_', ' ')] as const)] })}
    ${field({ label: 'User id', name: 'user', value: o.userId, attrs: html`inputmode="numeric"` })}
    <div class="field"><button type="submit">Filter</button></div>
  </form>
  ${imageGallery(o.items, { showUser: true })}
  ${pager({ path: '/admin/images', filters: { status: o.status, user: o.userId }, onFirstPage: o.first, nextCursor: o.nextCursor })}`;
}
