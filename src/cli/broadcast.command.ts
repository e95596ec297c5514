import { parseArgs } from 'node:util';
import { createApp } from '../app.js';
import type { Config } from '../config.js';
import { parseAudience } from '../domain/broadcasts/broadcasts.validation.js';
import type { Broadcast } from '../platform/db/schema.js';
import { AppError, errorMessage, ValidationError } from '../platform/errors.js';
import type { Command } from './commands.js';

const USAGE = `usage:
  vitte broadcast create --text <html> [--photo <url|file_id>] [--button-text <t> --button-url <url>]
                         [--audience all|active:<days>|plan:<name>|language:<code>] [--at <ISO time>] [--by <name>]
  vitte broadcast start|pause|resume|cancel <id>
  vitte broadcast status <id>
  vitte broadcast list [--limit <n>]
  vitte broadcast count [--audience <audience>]
`;

/** Actions that queue jobs: without Redis the queue would live and die inside this process. */
const NEEDS_QUEUE = new Set(['start', 'resume']);

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function describe(b: Broadcast): string {
  const when = b.status === 'scheduled' && b.scheduled_at ? ` at ${b.scheduled_at.toISOString()}` : '';
  return `broadcast ${b.id}: ${b.status}${when} (audience ${JSON.stringify(b.audience)}, created by ${b.created_by ?? '?'})`;
}

function parseId(raw: string | undefined): number {
  const id = Number(raw);
  if (!raw || !Number.isSafeInteger(id) || id <= 0)
    throw new ValidationError(`"${raw ?? ''}" is not a broadcast id`);
  return id;
}

async function run(args: string[], config: Readonly<Config>): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      text: { type: 'string' },
      photo: { type: 'string' },
      'button-text': { type: 'string' },
      'button-url': { type: 'string' },
      audience: { type: 'string', default: 'all' },
      at: { type: 'string' },
      by: { type: 'string', default: 'cli' },
      limit: { type: 'string', default: '20' },
    },
  });
  const [action, idArg] = positionals;
  const app = createApp({ ...config, LOG_LEVEL: 'warn' }, { role: 'cli' });
  try {
    const { broadcasts } = app;
    switch (action) {
      case 'create': {
        let scheduledAt: Date | undefined;
        if (values.at !== undefined) {
          scheduledAt = new Date(values.at);
          if (!Number.isFinite(scheduledAt.getTime()))
            throw new ValidationError(`--at "${values.at}" is not a date`);
        }
        const b = await broadcasts.create({
          text: values.text ?? '',
          photo: values.photo,
          buttonText: values['button-text'],
          buttonUrl: values['button-url'],
          audience: parseAudience(values.audience),
          scheduledAt,
          createdBy: values.by,
        });
        const count = await broadcasts.countAudience(b.audience);
        process.stderr.write(`${describe(b)}; ${count} recipient(s) right now\n`);
        out(String(b.id));
        return 0;
      }
      case 'start':
      case 'pause':
      case 'resume':
      case 'cancel': {
        const { after } = await broadcasts[action](parseId(idArg));
        out(describe(after));
        return 0;
      }
      case 'status': {
        const id = parseId(idArg);
        const [b, p] = await Promise.all([broadcasts.get(id), broadcasts.progress(id)]);
        out(describe(b));
        out(
          `total=${p.total} pending=${p.pending} sending=${p.sending} sent=${p.sent} blocked=${p.blocked} failed=${p.failed} cancelled=${p.cancelled}`,
        );
        return 0;
      }
      case 'list': {
        for (const b of await broadcasts.list({ limit: Number(values.limit) })) out(describe(b));
        return 0;
      }
      case 'count': {
        out(String(await broadcasts.countAudience(parseAudience(values.audience))));
        return 0;
      }
      default:
        process.stderr.write(USAGE);
        return 2;
    }
  } finally {
    await app.close();
  }
}

/** Manage broadcasts from a shell; the worker role delivers them. */
export const broadcastCommand: Command = {
  usage: 'create|start|pause|resume|cancel|status|list|count …',
  describe: 'create and control broadcasts (the worker delivers them)',
  help: USAGE.trimEnd(),
  async run(args, config) {
    const action = args[0];
    if (!config.DATABASE_URL) {
      process.stderr.write(
        'broadcast needs DATABASE_URL (the embedded database belongs to the "all" process)\n',
      );
      return 78;
    }
    if (action && NEEDS_QUEUE.has(action) && !config.REDIS_URL) {
      process.stderr.write(
        `broadcast ${action} needs REDIS_URL: the worker picks the broadcast up from the queue\n`,
      );
      return 78;
    }
    try {
      return await run(args, config);
    } catch (err) {
      if (err instanceof ValidationError) {
        const issues = (err.details?.issues as { path: string; message: string }[] | undefined) ?? [];
        process.stderr.write(`${err.message}\n${issues.map((i) => `  ${i.path}: ${i.message}\n`).join('')}`);
        return 2;
      }
      if (err instanceof TypeError && (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
        process.stderr.write(`${err.message}\n${USAGE}`);
        return 2;
      }
      process.stderr.write(`${errorMessage(err)}\n`);
      return err instanceof AppError ? 1 : 70;
    }
  },
};
