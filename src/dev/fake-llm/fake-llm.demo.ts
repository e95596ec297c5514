import { messageText } from './fake-llm.responder.js';
import { createFakeLlm } from './fake-llm.server.js';
import type { FakeLlm, FakeLlmRequest } from './fake-llm.types.js';

/** The model name the demo server lists and answers as. */
export const DEMO_MODEL = 'vitte-demo';

function quote(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 199)}…` : flat || '(an empty message)';
}

/**
 * The demo's answer: says plainly that it is not an AI, shows the formatting a real answer gets,
 * and tells how to connect a real model. Markdown, as a real model writes it.
 */
export function demoAnswer(request: FakeLlmRequest): string {
  const last = [...request.body.messages].reverse().find((m) => m.role === 'user');
  return [
    "**This is Vitte's demo model, not a real AI.** No language model is connected yet, so every answer looks like this one.",
    '',
    `> ${quote(messageText(last?.content))}`,
    '',
    'A real answer streams in like this one and can use **bold**, *italic*, `code`, lists and code blocks:',
    '',
    '```python',
    'print("Hello from Vitte")',
    '```',
    '',
    '**To connect a real model**, then restart Vitte:',
    '- **Ollama** on this machine: install it and run `ollama pull llama3.2` — Vitte finds it at 127.0.0.1:11434 by itself.',
    '- **OpenAI**: in `.env` set `LLM_BASE_URL=https://api.openai.com/v1`, `LLM_API_KEY=sk-…` and `LLM_MODEL=gpt-4o-mini`.',
    '- **Any OpenAI-compatible server** (llama.cpp, vLLM, OpenRouter, DeepSeek): `LLM_BASE_URL`, `LLM_MODEL` and, if it needs one, `LLM_API_KEY`.',
  ].join('\n');
}

/**
 * The built-in demo model: the fake OpenAI-compatible server answering every chat with
 * {@link demoAnswer}, streamed at a readable pace. What `vitte all` talks to in development when no
 * LLM is configured and none runs locally, and what `vitte dev llm` serves on its own.
 */
export function startDemoLlm(opts: { host?: string; port?: number } = {}): Promise<FakeLlm> {
  return createFakeLlm({
    ...opts,
    models: [DEMO_MODEL],
    defaultReply: demoAnswer,
    chunkSize: 8,
    chunkDelayMs: 12,
  });
}
