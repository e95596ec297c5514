import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { App } from '../../app.js';
import type { AuditChange } from '../../domain/admin/index.js';
import type { BullmqJobQueue } from '../../platform/queue/index.js';
import type { JobDefinitions } from '../../platform/queue/queue.js';
import { actorOf, hasRole, isSafeMethod } from '../auth.js';
import { sendPage } from '../respond.js';
import { queuesBody } from '../views/queues.view.js';

const BASE = '/admin/queues';
/** Job data an edit sets is kept in the audit row up to this size. */
const MAX_AUDITED_BODY = 2_000;

/**
 * The audit row of a bull-board request, from its route: `/api/queues/:queueName/:jobId/retry` is
 * `queues.retry` on that job, `/api/queues/:queueName/clean/:queueStatus` is `queues.clean` on the
 * queue, `/api/queues/pause` is `queues.pause` on every queue.
 */
function boardChange(req: FastifyRequest): AuditChange {
  const route = (req.routeOptions.url ?? req.url).slice(BASE.length).split('?')[0] ?? '';
  const words = route.split('/').filter((s) => s && s !== 'api' && !s.startsWith(':'));
  const verb = (words[0] === 'queues' ? words.slice(1) : words).join('.') || 'change';
  const p = (req.params ?? {}) as Record<string, string | undefined>;
  const body = req.body === undefined || req.body === null ? undefined : JSON.stringify(req.body);
  return {
    action: `queues.${verb}`,
    targetType: p.jobId ? 'job' : 'queue',
    targetId: p.jobId ? `${p.queueName}/${p.jobId}` : (p.queueName ?? '*'),
    after: {
      method: req.method,
      queue: p.queueName ?? '*',
      ...(p.jobId ? { job: p.jobId } : {}),
      ...(p.queueStatus ? { status: p.queueStatus } : {}),
      ...(p.schedulerId ? { scheduler: p.schedulerId } : {}),
      ...(body && body !== '{}'
        ? { body: body.length <= MAX_AUDITED_BODY ? req.body : { truncated: body.length } }
        : {}),
    },
  };
}

/**
 * What a viewer may see of the Redis server behind the queues: load, not the server's identity or
 * where its clients connect from (version, OS, port and the workers' addresses stay with admins).
 */
const VIEWER_SUMMARIES: Record<string, (body: Record<string, unknown>) => unknown> = {
  [`${BASE}/api/redis/stats`]: ({ backend, memory, clients }) => ({ backend, memory, clients }),
  [`${BASE}/api/queues/:queueName/workers`]: ({ workers }) => ({
    workers: Array.isArray(workers)
      ? workers.map((w: Record<string, unknown>) => ({ id: w.id, name: w.name, age: w.age }))
      : workers,
  }),
};

function viewerSummary(req: FastifyRequest, payload: unknown): unknown {
  const summarize = VIEWER_SUMMARIES[req.routeOptions.url ?? ''];
  if (!summarize || hasRole(req.admin, 'admin') || typeof payload !== 'string') return payload;
  try {
    return JSON.stringify(summarize(JSON.parse(payload) as Record<string, unknown>));
  } catch {
    return payload;
  }
}

/** bull-board's page links Google Fonts; the panel loads nothing from outside (and the CSP refuses it). */
function withoutExternalLinks(html: string): string {
  return html.replace(/<link\b[^>]*\bhref="https?:\/\/[^"]*"[^>]*>/g, '');
}

function bullmqOf(app: App): BullmqJobQueue<JobDefinitions> | undefined {
  const q = app.queue as unknown as Partial<BullmqJobQueue<JobDefinitions>>;
  return app.queue.kind === 'bullmq' && typeof q.bullmqQueues === 'function'
    ? (app.queue as unknown as BullmqJobQueue<JobDefinitions>)
    : undefined;
}

/**
 * `/admin/queues`: bull-board over the BullMQ queues, behind the admin's sessions and roles
 * (viewers read — the Redis server's details only as a summary — admins act; bull-board's own
 * requests are checked by origin). Without Redis the
 * in-process queue has no bull-board; a page shows its counts instead.
 */
export function queuesRoutes(app: App) {
  return async (f: FastifyInstance) => {
    f.get('/admin/api/queues', async () => ({
      kind: app.queue.kind,
      counts: await app.queue.counts(),
      schedules: await app.queue.schedules(),
    }));

    const bullmq = bullmqOf(app);
    if (!bullmq) {
      f.get(BASE, async (req, reply) => {
        const [counts, schedules] = await Promise.all([app.queue.counts(), app.queue.schedules()]);
        return sendPage(req, reply, {
          title: 'Queues',
          section: 'queues',
          body: queuesBody(counts, schedules),
        });
      });
      return;
    }

    const serverAdapter = new FastifyAdapter();
    serverAdapter.setBasePath(BASE);
    createBullBoard({
      queues: bullmq.bullmqQueues().map((q) => new BullMQAdapter(q, { allowRetries: true })),
      // @bull-board/fastify pins its own patch release of @bull-board/api; the adapter contract is
      // the same, only the private fields of the two copies' classes differ for the type checker.
      serverAdapter: serverAdapter as unknown as Parameters<typeof createBullBoard>[0]['serverAdapter'],
      options: {
        uiConfig: {
          boardTitle: 'Vitte queues',
          miscLinks: [{ text: '← Admin panel', url: '/admin' }],
        },
      },
    });
    await f.register(async (board) => {
      // The audit row is written before the change is made, so none lands unaudited: a failing
      // write refuses the request. A change that then fails gets its status added to the row.
      const audited = new WeakMap<FastifyRequest, number>();
      board.addHook('preHandler', async (req) => {
        if (isSafeMethod(req.method)) return;
        const change = boardChange(req);
        const entry = await app.admin.audit.record(actorOf(req), change).catch((err: unknown) => {
          req.log.error(
            { err, action: change.action, target: change.targetId },
            'queue change refused: audit write failed',
          );
          throw err;
        });
        audited.set(req, entry.id);
      });
      board.addHook('onSend', async (req, reply, payload) => {
        const id = audited.get(req);
        if (id !== undefined && reply.statusCode >= 400) {
          await app.admin.audit.markFailed(id, reply.statusCode).catch((err: unknown) => {
            req.log.error({ err, auditId: id }, 'failed queue change not marked in the audit log');
          });
        }
        if (typeof payload === 'string' && String(reply.getHeader('content-type')).startsWith('text/html'))
          return withoutExternalLinks(payload);
        return reply.statusCode === 200 ? viewerSummary(req, payload) : payload;
      });
      await board.register(serverAdapter.registerPlugin(), { prefix: BASE });
    });
  };
}
