import { existsSync } from 'node:fs';
import { CliError } from './cli/cli-error.js';
import { commandHelp, commands, usage } from './cli/commands.js';
import { ConfigError, loadConfig } from './config.js';

const HELP = new Set(['--help', '-h', 'help']);

/**
 * `vitte <command> [args]`: parse, load config from the environment (and `.env` when present),
 * run the command. Long-running roles resolve to a close function called on SIGTERM/SIGINT.
 */
async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name && HELP.has(name)) {
    process.stdout.write(usage());
    return 0;
  }
  const command = name ? commands[name] : undefined;
  if (!command) {
    process.stderr.write(`${name ? `unknown command "${name}"\n\n` : ''}${usage()}`);
    return 2;
  }
  if (args.some((a) => a === '--help' || a === '-h')) {
    process.stdout.write(commandHelp(name!, command));
    return 0;
  }
  if (existsSync('.env')) process.loadEnvFile('.env');
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 78; // EX_CONFIG
    }
    throw err;
  }
  let result: Awaited<ReturnType<typeof command.run>>;
  try {
    result = await command.run(args, config);
  } catch (err) {
    // Something the operator fixes by changing a named setting: one line, no stack trace.
    if (!(err instanceof CliError)) throw err;
    process.stderr.write(`vitte ${name}: ${err.message}\n`);
    return err.exitCode;
  }
  if (typeof result === 'number') return result;

  const { close, logger } = result;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    close().then(
      () => {
        logger.info('stopped');
        logger.flush();
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled promise rejection'));
  return -1;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
