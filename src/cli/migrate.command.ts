import { configSecrets } from '../config.js';
import { createDatabase } from '../platform/db/database.js';
import { migrateDown, migrateUp, migrationStatus } from '../platform/db/migrator.js';
import { createLogger } from '../platform/logger.js';
import type { Command } from './commands.js';
import { lockDataDir } from './data-dir-lock.js';

export const migrateCommand: Command = {
  usage: 'up | down [n|all] | status',
  describe: 'apply, revert or list database migrations, then exit',
  async run(args, config) {
    const [action = 'status', stepsArg] = args;
    if (!['up', 'down', 'status'].includes(action)) {
      process.stderr.write(`unknown migrate action "${action}": use up, down [n|all] or status\n`);
      return 2;
    }
    const steps = stepsArg === 'all' ? Number.POSITIVE_INFINITY : Number(stepsArg ?? 1);
    if (
      action === 'down' &&
      !(steps >= 1 && (Number.isInteger(steps) || steps === Number.POSITIVE_INFINITY))
    ) {
      process.stderr.write(`"migrate down" takes a positive number of steps or "all", got "${stepsArg}"\n`);
      return 2;
    }
    const logger = createLogger({
      level: config.LOG_LEVEL,
      pretty: false,
      secrets: configSecrets(config),
    }).child({
      role: 'migrate',
    });
    const unlock = config.embedded ? lockDataDir(config.DATA_DIR, `migrate ${action}`) : undefined;
    const database = createDatabase(
      {
        url: config.DATABASE_URL,
        dataDir: config.DATA_DIR,
        poolMax: 2,
        statementTimeoutMs: 0,
        connectTimeoutMs: config.DB_CONNECT_TIMEOUT_MS,
        applicationName: 'vitte-migrate',
      },
      logger,
    );
    try {
      if (action === 'up') {
        const applied = await migrateUp(database.db, logger);
        process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'schema is up to date\n');
      } else if (action === 'down') {
        const reverted = await migrateDown(database.db, logger, steps);
        process.stdout.write(reverted.length ? `reverted: ${reverted.join(', ')}\n` : 'nothing to revert\n');
      } else {
        for (const m of await migrationStatus(database.db)) {
          process.stdout.write(
            `${m.executedAt ? 'applied' : 'pending'}  ${m.name}${m.executedAt ? `  ${m.executedAt.toISOString()}` : ''}\n`,
          );
        }
      }
      return 0;
    } catch (err) {
      logger.error({ err }, 'migrate failed');
      return 1;
    } finally {
      await database.close();
      unlock?.();
    }
  },
};
