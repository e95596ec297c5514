import { registerApi } from '../api/index.js';
import { type App, createApp } from '../app.js';
import type { Config } from '../config.js';
import { migrateUp, pendingMigrations } from '../platform/db/migrator.js';
import { createHttpServer } from '../platform/http.js';
import type { Command, Running } from './commands.js';

export type Role = 'all' | 'api';

/**
 * Embedded `all` applies its own migrations so `npm start` just works; every other role expects
 * `vitte migrate up` to have run and refuses to start on an outdated schema.
 */
async function ensureSchema(app: App, role: Role): Promise<void> {
  if (app.database.kind === 'pglite' && role === 'all') {
    await migrateUp(app.db, app.logger);
    return;
  }
  const pending = await pendingMigrations(app.db);
  if (pending.length) {
    throw new Error(
      `database schema is not current (pending: ${pending.join(', ')}); run "vitte migrate up" first`,
    );
  }
}

async function listen(app: App, role: Role, port: number): Promise<void> {
  const server = createHttpServer({
    logger: app.logger,
    metrics: app.metrics,
    trustProxy: app.config.TRUST_PROXY,
  });
  await registerApi(server, app);
  // Stop accepting connections first; in-flight requests finish before storage closes.
  app.lifecycle.onClose(`http-${role}`, () => server.close());
  await server.listen({ host: app.config.HOST, port });
  const address = server.server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  app.logger.info({ role, url: `http://${app.config.HOST}:${bound}` }, 'listening');
}

export async function startRole(role: Role, config: Readonly<Config>): Promise<App> {
  if (role !== 'all' && config.embedded) {
    throw new Error(`the ${role} role needs DATABASE_URL (embedded PGlite serves the "all" role only)`);
  }
  const app = createApp(config, { role });
  try {
    await ensureSchema(app, role);
    await listen(app, role, config.API_PORT);
    app.logger.info({ role, embedded: config.embedded, redis: Boolean(app.redis) }, 'started');
    return app;
  } catch (err) {
    await app.close();
    throw err;
  }
}

export function roleCommand(role: Role, describe: string): Command {
  return {
    usage: '',
    describe,
    async run(_args, config): Promise<Running> {
      const app = await startRole(role, config);
      return { logger: app.logger, close: () => app.close() };
    },
  };
}
