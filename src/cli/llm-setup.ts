import type { App } from '../app.js';
import type { Config } from '../config.js';

/** A local OpenAI-compatible server on its usual address. */
export interface LocalLlm {
  name: string;
  baseUrl: string;
}

export const LOCAL_LLMS: readonly LocalLlm[] = [
  { name: 'Ollama', baseUrl: 'http://127.0.0.1:11434/v1' },
  { name: 'llama.cpp server', baseUrl: 'http://127.0.0.1:8080/v1' },
];

/** The models an OpenAI-compatible server lists; undefined when nothing answers like one in time. */
export async function listModels(baseUrl: string, timeoutMs: number): Promise<string[] | undefined> {
  try {
    const res = await fetch(`${baseUrl}/models`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return undefined;
    const body = (await res.json()) as { data?: { id?: unknown }[] };
    if (!Array.isArray(body.data)) return undefined;
    return body.data.map((m) => m.id).filter((id): id is string => typeof id === 'string');
  } catch {
    return undefined;
  }
}

export interface LlmChoice {
  config: Readonly<Config>;
  /** What to log about the choice, once there is a logger. */
  note?: { level: 'info' | 'warn' | 'error'; msg: string; fields: Record<string, unknown> };
  /** Stops the demo server when one was started. */
  close?: () => Promise<void>;
}

/**
 * The LLM a role talks to when LLM_BASE_URL is not set. In development: a local Ollama or
 * llama.cpp server when one answers (its first model, or LLM_MODEL when it lists that), else the
 * built-in demo model, so a newcomer's first message gets an answer. In production it stays unset
 * and is reported as the operator's error; in tests it stays as configured.
 */
export async function resolveLlm(
  config: Readonly<Config>,
  opts: { candidates?: readonly LocalLlm[]; timeoutMs?: number } = {},
): Promise<LlmChoice> {
  if (config.LLM_BASE_URL || config.NODE_ENV === 'test') return { config };
  if (config.NODE_ENV === 'production') {
    return {
      config,
      note: {
        level: 'error',
        msg: 'LLM_BASE_URL is not set: the bot cannot answer chat messages (users are told the AI is not available). Set LLM_BASE_URL, LLM_MODEL and LLM_API_KEY',
        fields: {},
      },
    };
  }
  const candidates = opts.candidates ?? LOCAL_LLMS;
  const found = await Promise.all(candidates.map((c) => listModels(c.baseUrl, opts.timeoutMs ?? 500)));
  const index = found.findIndex((models) => models && models.length > 0);
  const local = candidates[index];
  const models = found[index];
  if (local && models) {
    const model = models.includes(config.LLM_MODEL) ? config.LLM_MODEL : (models[0] as string);
    return {
      config: Object.freeze({ ...config, LLM_BASE_URL: local.baseUrl, LLM_MODEL: model, llmSource: 'local' }),
      note: {
        level: 'info',
        msg: `no LLM_BASE_URL: using the local ${local.name} at ${local.baseUrl} with the model ${model}`,
        fields: { llm: local.baseUrl, model, server: local.name },
      },
    };
  }
  const empty = candidates.filter((_, i) => found[i]?.length === 0).map((c) => c.name);
  // Loaded only here, so production never loads src/dev.
  const { DEMO_MODEL, startDemoLlm } = await import('../dev/fake-llm/index.js');
  const demo = await startDemoLlm();
  return {
    config: Object.freeze({ ...config, LLM_BASE_URL: demo.url, LLM_MODEL: DEMO_MODEL, llmSource: 'demo' }),
    note: {
      level: 'warn',
      msg:
        'no LLM configured: answering with the built-in DEMO model (not an AI). Connect a real one: ' +
        'run Ollama (found at 127.0.0.1:11434 by itself), or set LLM_BASE_URL, LLM_MODEL and LLM_API_KEY' +
        (empty.length
          ? ` (${empty.join(' and ')} runs but lists no model: pull one, e.g. "ollama pull llama3.2")`
          : ''),
      fields: { llm: demo.url, model: DEMO_MODEL },
    },
    close: () => demo.close(),
  };
}

/**
 * Logs the choice, then asks the provider for its models once (in the background): a refused key
 * or an unreachable URL is a warning at start, not a surprise at the first user message.
 */
export function checkLlm(app: App, choice: LlmChoice): void {
  if (choice.note) app.logger[choice.note.level](choice.note.fields, choice.note.msg);
  if (!app.llm.configured || app.config.llmSource === 'demo') return;
  const stop = new AbortController();
  app.lifecycle.onClose('llm-check', () => stop.abort());
  void app.llm.check(stop.signal).then((res) => {
    if (stop.signal.aborted) return;
    const fields = { llm: app.llm.status().baseUrl, model: app.config.LLM_MODEL };
    if (res.ok) {
      if (!res.models.includes(app.config.LLM_MODEL) && res.models.length) {
        app.logger.warn({ ...fields, models: res.models.slice(0, 20) }, 'the LLM does not list LLM_MODEL');
      } else app.logger.info(fields, 'LLM reachable');
    } else if (res.config) {
      app.logger.warn({ ...fields, status: res.status }, 'the LLM refused the key: check LLM_API_KEY');
    } else {
      app.logger.warn(
        { ...fields, status: res.status, reason: res.message },
        'could not list the LLM models',
      );
    }
  });
}
