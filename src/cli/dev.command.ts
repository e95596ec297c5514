import { parseArgs } from 'node:util';
import { createLogger } from '../platform/logger.js';
import { CliError, listenError } from './cli-error.js';
import type { Command, Running } from './commands.js';

const DEFAULT_PORT = 8082;

const HELP = `vitte dev llm [--port N]   (default ${DEFAULT_PORT})
  The built-in demo model alone: an OpenAI-compatible server on 127.0.0.1 that answers every
  message with a formatted demo text (it is not an AI). Point any role at it with
  LLM_BASE_URL=http://127.0.0.1:${DEFAULT_PORT}/v1 LLM_MODEL=vitte-demo — what "vitte all" does by
  itself in development when no LLM is configured and no Ollama or llama.cpp server runs.`;

/** Development tools; `vitte dev llm` serves the demo model on its own. */
export const devCommand: Command = {
  usage: 'llm [--port N]',
  describe: 'development tools: the demo OpenAI-compatible model on its own',
  help: HELP,
  async run(args, config): Promise<number | Running> {
    let parsed: ReturnType<
      typeof parseArgs<{ options: { port: { type: 'string' } }; allowPositionals: true }>
    >;
    try {
      parsed = parseArgs({ args, options: { port: { type: 'string' } }, allowPositionals: true });
    } catch (err) {
      process.stderr.write(`${(err as Error).message}\n\nusage: ${HELP}\n`);
      return 2;
    }
    const port = Number(parsed.values.port ?? DEFAULT_PORT);
    if (parsed.positionals.join(' ') !== 'llm' || !Number.isInteger(port) || port < 0 || port > 65535) {
      process.stderr.write(`usage: ${HELP}\n`);
      return 2;
    }
    if (config.NODE_ENV === 'production') {
      throw new CliError('"vitte dev" is a development tool: it does not run with NODE_ENV=production');
    }
    const { DEMO_MODEL, startDemoLlm } = await import('../dev/fake-llm/index.js');
    const demo = await startDemoLlm({ port }).catch((err: unknown) => {
      throw listenError(err, '--port', '127.0.0.1', port);
    });
    const logger = createLogger({
      level: config.LOG_LEVEL,
      pretty: config.LOG_PRETTY ?? process.stdout.isTTY === true,
    });
    logger.info(
      { url: demo.url, model: DEMO_MODEL },
      `demo model listening: LLM_BASE_URL=${demo.url} LLM_MODEL=${DEMO_MODEL}`,
    );
    return { logger, close: () => demo.close() };
  },
};
