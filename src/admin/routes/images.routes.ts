import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { App } from '../../app.js';
import type { ImageJobListItem } from '../../domain/images/image-jobs.repository.js';
import { objectLink } from '../object-links.js';
import { parse, sendPage } from '../respond.js';
import { type GalleryItem, IMAGE_STATUSES, imagesBody } from '../views/images.view.js';

const PAGE_SIZE = 24;

const listQuery = z.object({
  status: z.union([z.enum(IMAGE_STATUSES as [string, ...string[]]), z.literal('')]).optional(),
  user: z.union([z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER), z.literal('')]).optional(),
  before: z.coerce.number().int().positive().optional(),
  limit: z.coerce.number().int().min(1).max(200).optional(),
});

/** Each job with a signed link to its stored picture. */
export function withLinks(app: App, items: ImageJobListItem[]): GalleryItem[] {
  return items.map((j) => ({ ...j, url: j.object_key ? objectLink(app, j.object_key) : null }));
}

/** The Images page: recent pictures as a gallery (failed ones with their error), filterable. */
export function imagesRoutes(app: App) {
  const load = async (req: FastifyRequest) => {
    const q = parse(listQuery, req.query);
    const limit = q.limit ?? PAGE_SIZE;
    const status = q.status ? (q.status as (typeof IMAGE_STATUSES)[number]) : undefined;
    const userId = typeof q.user === 'number' ? q.user : undefined;
    const rows = await app.images.list({
      limit: limit + 1,
      ...(status ? { status } : {}),
      ...(userId !== undefined ? { userId } : {}),
      ...(q.before !== undefined ? { beforeId: q.before } : {}),
    });
    const items = withLinks(app, rows.slice(0, limit));
    return {
      items,
      status,
      userId,
      first: q.before === undefined,
      nextCursor: rows.length > limit ? (items[items.length - 1]?.id ?? null) : null,
    };
  };

  return async (f: FastifyInstance) => {
    f.get('/admin/images', async (req, reply) => {
      const view = await load(req);
      return sendPage(req, reply, { title: 'Images', section: 'images', body: imagesBody(view) });
    });

    f.get('/admin/api/images', async (req) => {
      const { items, nextCursor } = await load(req);
      return { items, nextCursor };
    });
  };
}
