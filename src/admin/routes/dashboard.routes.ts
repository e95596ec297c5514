import type { FastifyInstance } from 'fastify';
import type { App } from '../../app.js';
import { sendPage } from '../respond.js';
import { systemHealth } from '../system-health.js';
import { dashboardBody } from '../views/dashboard.view.js';

export function dashboardRoutes(app: App) {
  return async (f: FastifyInstance) => {
    const dashboard = async (fresh: boolean) => {
      const [stats, health] = await Promise.all([app.stats.dashboard({ fresh }), systemHealth(app)]);
      return { stats, health };
    };

    for (const url of ['/admin', '/admin/']) {
      f.get(url, async (req, reply) => {
        const { stats, health } = await dashboard((req.query as { fresh?: string }).fresh === '1');
        return sendPage(req, reply, {
          title: 'Dashboard',
          section: 'dashboard',
          charts: true,
          body: dashboardBody(stats, health),
        });
      });
    }

    f.get('/admin/api/stats', async (req) => {
      const { stats, health } = await dashboard((req.query as { fresh?: string }).fresh === '1');
      return { ...stats, health };
    });

    // For load balancers and uptime checks: public, no details beyond up/down.
    f.get('/admin/health', { config: { adminAccess: 'public' } }, async (_req, reply) => {
      const ok = await app.database.ping().then(
        () => true,
        () => false,
      );
      return reply
        .status(ok ? 200 : 503)
        .send({ status: ok ? 'ok' : 'error', checks: { db: ok ? 'ok' : 'error' } });
    });
  };
}
