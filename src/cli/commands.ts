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
  const rows = Object.entries(commands).map(([name, c]) => {
    const call = `vitte ${name} ${c.usage}`.trimEnd();
    return call.length <= 38
      ? `  ${call.padEnd(38)} ${c.describe}`
      : `  ${call}\n  ${''.padEnd(38)} ${c.describe}`;
  });
  const defaults = loadConfig({});
  const byPort = new Map<string, string[]>();
  for (const [role, spec] of Object.entries(ROLES))
    byPort.set(spec.port, [...(byPort.get(spec.port) ?? []), role]);
  const ports = [...byPort].map(
    ([port, roles]) => `${roles.join(' and ')} ${port}=${defaults[port as keyof Config]}`,
  );
  return `usage: vitte <command> [args]     vitte <command> --help

commands:
${rows.join('\n')}

Configuration comes from the environment and .env (see .env.example). Each role has its own
port (variable=default): ${ports.join(', ')}.
`;
}

/** `vitte <command> --help`: the one-line usage unless the command's help gives its own. */
export function commandHelp(name: string, c: Command): string {
  const head = c.help?.startsWith('usage') ? '' : `usage: vitte ${name} ${c.usage}`.trimEnd() + '\n\n';
  return `${head}${c.describe}\n${c.help ? `\n${c.help}\n` : ''}`;
}
