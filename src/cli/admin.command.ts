import type { Readable } from 'node:stream';
import { createApp } from '../app.js';
import { configSecrets } from '../config.js';
import { migrateUp, pendingMigrations } from '../platform/db/migrator.js';
import type { AdminRole } from '../platform/db/schema.js';
import { AppError } from '../platform/errors.js';
import { createLogger } from '../platform/logger.js';
import type { Command } from './commands.js';
import { lockDataDir } from './data-dir-lock.js';
import { roleCommand } from './roles.js';

const ROLES: readonly AdminRole[] = ['owner', 'admin', 'viewer'];

/** Read a hidden line from a terminal (no echo), or the first line of piped input. */
async function readPassword(
  stdin: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown },
  prompt: string,
): Promise<string> {
  if (!stdin.isTTY || !stdin.setRawMode) {
    let data = '';
    for await (const chunk of stdin) {
      data += String(chunk);
      if (data.includes('\n')) break;
    }
    return data.split(/\r?\n/)[0] ?? '';
  }
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  try {
    return await new Promise<string>((resolve, reject) => {
      let value = '';
      const onData = (buf: Buffer) => {
        for (const ch of buf.toString('utf8')) {
          if (ch === '\r' || ch === '\n') {
            stdin.off('data', onData);
            process.stderr.write('\n');
            resolve(value);
            return;
          }
          if (ch === '\u0003') {
            stdin.off('data', onData);
            reject(new Error('cancelled'));
            return;
          }
          if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
          else value += ch;
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
  }
}

function parseArgs(args: string[]): { username: string; role: AdminRole | undefined } | string {
  let role: AdminRole | undefined;
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--role' || a.startsWith('--role=')) {
      const value = a.includes('=') ? a.slice(7) : args[++i];
      if (!value || !ROLES.includes(value as AdminRole)) return `--role must be one of ${ROLES.join(', ')}`;
      role = value as AdminRole;
    } else if (a.startsWith('--')) {
      return `unknown option ${a} (the password is read from ADMIN_PASSWORD or stdin, never from arguments)`;
    } else rest.push(a);
  }
  if (rest.length !== 1) return 'usage: vitte admin create-user <username> [--role owner|admin|viewer]';
  return { username: rest[0]!, role };
}

export interface AdminCommandIo {
  stdin: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
}

/**
 * `vitte admin` runs the admin role; `vitte admin create-user <username> [--role …]` creates an
 * account (the first one an owner unless told otherwise) with the password from ADMIN_PASSWORD or
 * stdin, then exits.
 */
export function createAdminCommand(io: AdminCommandIo): Command {
  const role = roleCommand('admin', '');
  return {
    usage: '[create-user <username> [--role r]]',
    describe: 'admin web panel and JSON API (ADMIN_PORT); create-user adds an account',
    async run(args, config) {
      if (args.length === 0) return role.run(args, config);
      if (args[0] !== 'create-user') {
        process.stderr.write(
          `unknown admin action "${args[0]}": use "vitte admin" or "vitte admin create-user"\n`,
        );
        return 2;
      }
      const parsed = parseArgs(args.slice(1));
      if (typeof parsed === 'string') {
        process.stderr.write(`${parsed}\n`);
        return 2;
      }
      // ADMIN_PASSWORD: how scripts pass the password without putting it in argv.
      const fromEnv = config.ADMIN_PASSWORD;
      let password: string;
      try {
        password = fromEnv ?? (await readPassword(io.stdin, 'Password: '));
        if (
          fromEnv === undefined &&
          io.stdin.isTTY &&
          password !== (await readPassword(io.stdin, 'Repeat: '))
        ) {
          process.stderr.write('the passwords differ\n');
          return 2;
        }
      } catch {
        process.stderr.write('cancelled\n');
        return 130;
      }

      const logger = createLogger({
        level: config.LOG_LEVEL,
        pretty: false,
        secrets: [password, ...configSecrets(config)],
      }).child({
        role: 'admin-cli',
      });
      const unlock = config.embedded ? lockDataDir(config.DATA_DIR, 'admin create-user') : undefined;
      const app = createApp({ ...config, DB_POOL_MAX: 2 }, { logger, role: 'admin-cli' });
      try {
        // Embedded mode has no separate migrate step: the schema is brought up here like `all` does.
        if (app.database.kind === 'pglite') await migrateUp(app.db, logger);
        else {
          const pending = await pendingMigrations(app.db);
          if (pending.length) {
            process.stderr.write(
              `database schema is not current (pending: ${pending.join(', ')}); run "vitte migrate up" first\n`,
            );
            return 1;
          }
        }
        const accounts = app.admin.accounts;
        const roleToUse = parsed.role ?? ((await accounts.count()) === 0 ? 'owner' : 'admin');
        const created = await accounts.create({ username: parsed.username, password, role: roleToUse });
        process.stdout.write(`created admin account "${created.username}" (role ${created.role})\n`);
        return 0;
      } catch (err) {
        if (err instanceof AppError) {
          process.stderr.write(`${err.message}\n`);
          return err.status === 409 ? 1 : 2;
        }
        throw err;
      } finally {
        await app.close();
        unlock?.();
      }
    },
  };
}

export const adminCommand = createAdminCommand({ stdin: process.stdin });
