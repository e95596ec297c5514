import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance } from 'fastify';
import type { App } from '../../app.js';
import type { BullmqJobQueue } from '../../platform/queue/index.js';
import type { JobDefinitions } from '../../platform/queue/queue.js';
import { actorOf, isSafeMethod } from '../auth.js';
import { sendPage } from '../respond.js';
import { queuesBody } from '../views/queues.view.js';

const BASE = '/admin/queues';

function bullmqOf(app: App): BullmqJobQueue<JobDefinitions> | undefined {
  const q = app.queue as unknown as Partial<BullmqJobQueue<JobDefinitions>>;
  return app.queue.kind === 'bullmq' && typeof q.bullmqQueues === 'function'
    ? (app.queue as unknown as BullmqJobQueue<JobDefinitions>)
    : undefined;
}

/**
 * `/admin/queues`: bull-board over the BullMQ queues, behind the admin's sessions and roles
 * (viewers read, admins act; bull-board's own requests are checked by origin). Without Redis the
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
      // Every successful change made through bull-board lands in the audit log, before the answer.
      board.addHook('onSend', async (req, reply, payload) => {
        if (!isSafeMethod(req.method) && reply.statusCode < 400 && req.admin) {
          await app.admin.audit.recordAfter(actorOf(req), {
            action: 'queues.change',
            targetType: 'queue',
            targetId: req.url.slice(BASE.length, BASE.length + 200),
            after: { method: req.method },
          });
        }
        return payload;
      });
      await board.register(serverAdapter.registerPlugin(), { prefix: BASE });
    });
  };
}
