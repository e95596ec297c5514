import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { App } from '../../app.js';
import { parse, sendPage } from '../respond.js';
import { auditBody } from '../views/audit.view.js';

const auditQuery = z.object({
  before: z.coerce.number().int().positive().optional(),
  limit: z.coerce.number().int().min(1).max(200).optional(),
  action: z.string().trim().max(64).optional(),
  targetType: z.string().trim().max(32).optional(),
  targetId: z.string().trim().max(64).optional(),
});

export function auditRoutes(app: App) {
  const load = async (req: FastifyRequest) => {
    const q = parse(auditQuery, req.query);
    const limit = q.limit ?? 50;
    const rows = await app.admin.audit.list({
      limit: limit + 1,
      beforeId: q.before,
      action: q.action || undefined,
      targetType: q.targetType || undefined,
      targetId: q.targetId || undefined,
    });
    const items = rows.slice(0, limit);
    return { q, items, nextCursor: rows.length > limit ? items[items.length - 1]!.id : null };
  };

  return async (f: FastifyInstance) => {
    f.get('/admin/audit', async (req, reply) => {
      const { q, items, nextCursor } = await load(req);
      const body = auditBody({
        entries: items,
        action: q.action || undefined,
        nextCursor,
        first: q.before === undefined,
      });
      return sendPage(req, reply, { title: 'Audit log', section: 'audit', body });
    });

    f.get('/admin/api/audit', async (req) => {
      const { items, nextCursor } = await load(req);
      return { items, nextCursor };
    });
  };
}
