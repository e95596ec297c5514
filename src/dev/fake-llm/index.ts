export { FakeLlmClient, FakeLlmControlError } from './fake-llm.client.js';
export { DEMO_MODEL, demoAnswer, startDemoLlm } from './fake-llm.demo.js';
export { estimateTokens, promptTokens } from './fake-llm.responder.js';
export { createFakeLlm } from './fake-llm.server.js';
export type * from './fake-llm.types.js';
