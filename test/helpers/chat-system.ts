import { afterAll, beforeAll, beforeEach } from 'vitest';
import { createFakeLlm } from '../../src/dev/fake-llm/index.js';
import { startSystem, type TestSystem } from './system.js';

export type FakeLlm = Awaited<ReturnType<typeof createFakeLlm>>;

/**
 * For a describe block: the whole system (startSystem) talking to a fake OpenAI-compatible server,
 * started before its tests and closed after them; `ready` receives both. The fake's script and
 * recordings are reset before each test unless `keepLlmState` is set.
 */
export function useChatSystem(
  opts: Parameters<typeof startSystem>[0] & { keepLlmState?: boolean },
  ready: (system: { s: TestSystem; llm: FakeLlm }) => void,
): void {
  let s: TestSystem | undefined;
  let llm: FakeLlm | undefined;
  beforeAll(async () => {
    llm = await createFakeLlm();
    s = await startSystem({ ...opts, env: { LLM_BASE_URL: llm.url, ...opts.env } });
    ready({ s, llm });
  });
  afterAll(async () => {
    await s?.close();
    await llm?.close();
  });
  if (!opts.keepLlmState) beforeEach(() => llm?.reset());
}
