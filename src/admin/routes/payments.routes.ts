import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { App } from '../../app.js';
import { actorOf, csrfTokenOf, hasRole } from '../auth.js';
import { parse, redirectTo, sendHtml, sendPage } from '../respond.js';
import { paymentDetailBody, paymentsBody, revenueCard } from '../views/payments.view.js';

const PAGE_SIZE = 50;
const DAY_MS = 86_400_000;

const day = z
  .string()
  .trim()
  .regex(/^(\d{4}-\d{2}-\d{2})?$/, 'a date (YYYY-MM-DD)')
  .optional();

const listQuery = z.object({
  status: z
    .enum(['', 'orphaned', 'credited', 'orphan', 'refund_pending', 'refunded', 'refund_failed'])
    .optional(),
  product: z.string().trim().max(32).optional(),
  user: z.union([z.literal(''), z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER)]).optional(),
  from: day,
  to: day,
  before: z.coerce.number().int().positive().optional(),
  limit: z.coerce.number().int().min(1).max(200).optional(),
});

const idParams = z.object({ id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER) });

/** Payments: the list (orphans first), a payment's detail with its refund, and the revenue card. */
export function paymentsRoutes(app: App) {
  const list = async (req: FastifyRequest) => {
    const q = parse(listQuery, req.query);
    const filter = {
      status: q.status || undefined,
      product: q.product || undefined,
      userId: typeof q.user === 'number' ? q.user : undefined,
      from: q.from || undefined,
      to: q.to || undefined,
      beforeId: q.before,
    };
    const limit = q.limit ?? PAGE_SIZE;
    const rows = await app.payments.search({
      ...filter,
      from: filter.from ? new Date(`${filter.from}T00:00:00Z`) : undefined,
      // The "to" day is included: everything before the next day.
      to: filter.to ? new Date(Date.parse(`${filter.to}T00:00:00Z`) + DAY_MS) : undefined,
      limit: limit + 1,
    });
    const items = rows.slice(0, limit);
    return { filter, items, nextCursor: rows.length > limit ? items[items.length - 1]!.id : null };
  };

  return async (f: FastifyInstance) => {
    f.get('/admin/payments', async (req, reply) => {
      const [view, catalogue] = await Promise.all([list(req), app.settings.get('payments.catalogue')]);
      const unfiltered = Object.values(view.filter).every((v) => v === undefined);
      const orphans = unfiltered ? await app.payments.orphans() : [];
      const body = paymentsBody({ ...view, orphans, products: catalogue.map((p) => p.code) });
      return sendPage(req, reply, { title: 'Payments', section: 'payments', body });
    });

    // The dashboard's revenue card, loaded by htmx so the dashboard itself stays as it is.
    f.get('/admin/payments/revenue', async (_req, reply) =>
      sendHtml(reply, revenueCard(await app.payments.stats())),
    );

    f.get('/admin/payments/:id', async (req, reply) => {
      const { id } = parse(idParams, req.params);
      const detail = await app.payments.get(id);
      const body = paymentDetailBody(detail, hasRole(req.admin, 'admin'), csrfTokenOf(req));
      return sendPage(req, reply, { title: `Payment ${id}`, section: 'payments', body });
    });

    f.post('/admin/payments/:id/refund', async (req, reply) => {
      const { id } = parse(idParams, req.params);
      await app.admin.payments.refund(actorOf(req), id);
      return redirectTo(req, reply, `/admin/payments/${id}?done=refund`);
    });

    f.get('/admin/api/payments', async (req) => {
      const { items, nextCursor } = await list(req);
      return { items, nextCursor };
    });

    f.get('/admin/api/payments/stats', async () => app.payments.stats());

    f.get('/admin/api/payments/:id', async (req) => app.payments.get(parse(idParams, req.params).id));

    f.post('/admin/api/payments/:id/refund', async (req) => ({
      payment: await app.admin.payments.refund(actorOf(req), parse(idParams, req.params).id),
    }));
  };
}
