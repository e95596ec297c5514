import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { App } from '../../app.js';
import { hasRole } from '../auth.js';
import { sendPage } from '../respond.js';
import { healthSummary, systemHealth } from '../system-health.js';
import { dashboardBody } from '../views/dashboard.view.js';

/**
 * `?fresh=1` recounts everything (≈ 250 ms p50 at a million users), so only admins may force it;
 * a viewer asking for it gets the cached numbers like any other request.
 */
function wantsFresh(req: FastifyRequest): boolean {
  if ((req.query as { fresh?: string }).fresh !== '1') return false;
  if (hasRole(req.admin, 'admin')) return true;
  req.log.info({ admin: req.admin?.username, role: req.admin?.role }, 'dashboard recount refused: viewer');
  return false;
}

export function dashboardRoutes(app: App) {
  return async (f: FastifyInstance) => {
    const dashboard = async (req: FastifyRequest) => {
      const [stats, health] = await Promise.all([
        app.stats.dashboard({ fresh: wantsFresh(req) }),
        systemHealth(app),
      ]);
      return { stats, health: hasRole(req.admin, 'admin') ? health : healthSummary(health) };
    };

    for (const url of ['/admin', '/admin/']) {
      f.get(url, async (req, reply) => {
        const { stats, health } = await dashboard(req);
        return sendPage(req, reply, {
          title: 'Dashboard',
          section: 'dashboard',
          charts: true,
          body: dashboardBody(stats, health, hasRole(req.admin, 'admin')),
        });
      });
    }

    f.get('/admin/api/stats', async (req) => {
      const { stats, health } = await dashboard(req);
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
