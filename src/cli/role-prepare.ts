import type { Config } from '../config.js';
import type { BotApiEmulator } from '../dev/bot-api-emulator/index.js';
import { CliError, listenError } from './cli-error.js';
import { lockDataDir } from './data-dir-lock.js';
import { type LlmChoice, type LocalLlm, resolveLlm } from './llm-setup.js';

/**
 * With no BOT_TOKEN, embedded `all` starts the local Bot API emulator and talks to it, so a newcomer
 * can use the bot at /playground at once. Loaded only then: production never loads src/dev.
 */
async function startEmulator(config: Readonly<Config>): Promise<BotApiEmulator> {
  // The playground lets anyone speak as any Telegram user: a development tool, never a production one.
  if (config.NODE_ENV === 'production') throw new CliError('NODE_ENV=production: set BOT_TOKEN');
  const { createBotApiEmulator } = await import('../dev/bot-api-emulator/index.js');
  try {
    // The bot's data outlives this emulator: message ids from the clock (ms since 2025), so a
    // restart never hands out an id the bot already stored — it would take the message for a
    // re-delivered one and stay silent.
    const firstMessageId = Date.now() - Date.UTC(2025, 0, 1);
    return await createBotApiEmulator({ host: '127.0.0.1', port: config.EMULATOR_PORT, firstMessageId });
  } catch (err) {
    throw listenError(err, 'EMULATOR_PORT', '127.0.0.1', config.EMULATOR_PORT);
  }
}

/**
 * `npm start` without COMFYUI_URLS: a fake ComfyUI draws the playground's pictures from the first
 * minute. Development only, and loaded only then.
 */
async function startDevComfyUi(config: Readonly<Config>) {
  const { startFakeComfy } = await import('../dev/fake-comfyui/index.js');
  // Steps slow enough to watch the progress in the playground.
  const fake = await startFakeComfy({ host: '127.0.0.1', port: 0, stepMs: 80 });
  return {
    close: () => fake.close(),
    config: Object.freeze({
      ...config,
      COMFYUI_URLS: [{ name: 'dev-fake-comfyui', baseUrl: fake.url, slots: 2 }],
    }),
  };
}

export interface Prepared {
  /** With what the local services provide: the emulator's token and address, the LLM chosen. */
  config: Readonly<Config>;
  emulator: BotApiEmulator | undefined;
  llm: LlmChoice;
  /** How to undo each step, last one first. */
  undo: { name: string; close: () => Promise<void> | void }[];
}

/**
 * What runs before the app: the embedded data directory's lock, the Bot API emulator when the
 * role may start one and has no BOT_TOKEN, a fake ComfyUI in development without COMFYUI_URLS, and
 * the LLM when the role talks to one. A failing step undoes the ones before it.
 */
export async function prepare(
  baseConfig: Readonly<Config>,
  opts: {
    command: string;
    emulator: boolean;
    /** May start a fake ComfyUI (development, no COMFYUI_URLS). */
    comfyui?: boolean;
    llm: boolean;
    localLlms?: readonly LocalLlm[];
  },
): Promise<Prepared> {
  const steps: Prepared['undo'] = [];
  let config = baseConfig;
  let emulator: BotApiEmulator | undefined;
  let llm: LlmChoice = { config };
  try {
    if (config.embedded) {
      steps.push({ name: 'data-dir-lock', close: lockDataDir(config.DATA_DIR, opts.command) });
    }
    if (opts.emulator && !config.BOT_TOKEN) {
      const started = await startEmulator(config);
      emulator = started;
      steps.push({ name: 'bot-api-emulator', close: () => started.close() });
      config = Object.freeze({ ...config, BOT_TOKEN: started.token, TELEGRAM_API_ROOT: started.url });
    }
    if (opts.comfyui && !config.COMFYUI_URLS.length && config.NODE_ENV === 'development') {
      const fake = await startDevComfyUi(config);
      steps.push({ name: 'fake-comfyui', close: fake.close });
      config = fake.config;
    }
    if (opts.llm) {
      llm = await resolveLlm(config, opts.localLlms ? { candidates: opts.localLlms } : {});
      if (llm.close) steps.push({ name: 'demo-llm', close: llm.close });
      config = llm.config;
    }
  } catch (err) {
    for (const step of steps.reverse()) await step.close();
    throw err;
  }
  return { config, emulator, llm, undo: steps.reverse() };
}
