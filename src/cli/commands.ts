import { type Config, loadConfig } from '../config.js';
import type { Logger } from '../platform/logger.js';
import { adminCommand } from './admin.command.js';
import { broadcastCommand } from './broadcast.command.js';
import { devCommand } from './dev.command.js';
import { jobsCommand } from './jobs.command.js';
import { migrateCommand } from './migrate.command.js';
import { ROLES, roleCommand } from './roles.js';
import { webhookCommand } from './webhook.command.js';

/** A long-running role hands back how to stop it; a one-shot command returns its exit code. */
export type Running = { logger: Logger; close: () => Promise<void> };

export interface Command {
  usage: string;
  describe: string;
  /** More than the one line, for `vitte <command> --help`. */
  help?: string;
  run(args: string[], config: Readonly<Config>): Promise<number | Running>;
}

export const commands: Record<string, Command> = {
  all: roleCommand('all', 'every role in one process (embedded default of npm start)'),
  api: roleCommand('api', 'public HTTP API: health, /metrics, OpenAPI docs, the Telegram webhook'),
  bot: roleCommand('bot', 'receive Telegram updates by long polling and handle them'),
  admin: adminCommand,
  worker: roleCommand('worker', 'run background jobs and schedules (replies, broadcasts, cleanup)'),
  broadcast: broadcastCommand,
  jobs: jobsCommand,
  migrate: migrateCommand,
  webhook: webhookCommand,
  dev: devCommand,
};

export function usage(): string {
  const rows = Object.entries(commands).map(
    ([name, c]) => `  vitte ${`${name} ${c.usage}`.padEnd(40)} ${c.describe}`,
  );
  const defaults = loadConfig({});
  const ports = Object.entries(ROLES).map(([role, spec]) => `${role} ${spec.port}=${defaults[spec.port]}`);
  return `usage: vitte <command> [args]     vitte <command> --help

commands:
${rows.join('\n')}

Configuration comes from the environment and .env (see .env.example). Each role listens on its
own port (defaults shown): ${ports.join(', ')}.
`;
}

/** `vitte <command> --help`. */
export function commandHelp(name: string, c: Command): string {
  return `usage: vitte ${name} ${c.usage}\n\n${c.describe}\n${c.help ? `\n${c.help}\n` : ''}`;
}
