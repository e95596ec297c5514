import OpenAI, { type APIError } from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createFakeLlm,
  estimateTokens,
  type FakeLlm,
  FakeLlmClient,
  type FakeLlmStats,
} from '../../src/dev/fake-llm/index.js';
import { waitFor } from '../helpers/wait.js';

const KEY = 'sk-fake-test';
let fake: FakeLlm;
let openai: OpenAI;

beforeAll(async () => {
  fake = await createFakeLlm({ apiKey: KEY, models: ['fake-small', 'fake-large'] });
  openai = new OpenAI({ baseURL: fake.url, apiKey: KEY, maxRetries: 0, logLevel: 'off' });
});
afterAll(() => fake.close());
beforeEach(() => fake.reset());

const messages = [
  { role: 'system' as const, content: 'You are terse.' },
  { role: 'user' as const, content: 'Say hello' },
];

async function collect(stream: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

function until(check: (s: FakeLlmStats) => boolean): Promise<FakeLlmStats> {
  return waitFor(
    'the fake LLM to settle',
    () => {
      const s = fake.stats();
      return check(s) ? s : undefined;
    },
    { timeoutMs: 5_000 },
  );
}

describe('fake LLM with the openai SDK', () => {
  it('streams deltas, a finish reason and usage like OpenAI', async () => {
    const text = 'Hello, world! 😀 This reply arrives in small pieces.';
    fake.enqueue({ text, chunkSize: 3 });
    const stream = await openai.chat.completions.create({
      model: 'fake-small',
      messages,
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0.3,
      max_tokens: 500,
    });
    const chunks = await collect(stream);
    expect(chunks[0]!.object).toBe('chat.completion.chunk');
    expect(chunks[0]!.id).toMatch(/^chatcmpl-/);
    expect(chunks[0]!.choices[0]!.delta).toMatchObject({ role: 'assistant', content: '' });
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    const content = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(content).toBe(text);
    expect(chunks.filter((c) => c.choices[0]?.delta.content).length).toBe(
      Math.ceil(Array.from(text).length / 3),
    );
    const finish = chunks.at(-2)!;
    expect(finish.choices[0]!.finish_reason).toBe('stop');
    const usage = chunks.at(-1)!;
    expect(usage.choices).toEqual([]);
    const prompt = estimateTokens('You are terse.Say hello');
    expect(usage.usage).toEqual({
      prompt_tokens: prompt,
      completion_tokens: estimateTokens(text),
      total_tokens: prompt + estimateTokens(text),
    });

    const [request] = fake.requests();
    expect(request!.body).toMatchObject({ model: 'fake-small', messages, temperature: 0.3, max_tokens: 500 });
    expect(request!.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(request!.outcome).toBe('completed');
    expect(fake.stats()).toMatchObject({ requests: 1, completed: 1, aborted: 0, active: 0 });
  });

  it('answers non-streaming requests with a chat.completion echoing the last user message', async () => {
    const res = await openai.chat.completions.create({ model: 'fake-large', messages });
    expect(res.object).toBe('chat.completion');
    expect(res.model).toBe('fake-large');
    expect(res.choices[0]!.message).toMatchObject({ role: 'assistant', content: 'Echo: Say hello' });
    expect(res.choices[0]!.finish_reason).toBe('stop');
    expect(res.usage).toMatchObject({ completion_tokens: estimateTokens('Echo: Say hello') });
  });

  it('stops at max_tokens with finish_reason "length"', async () => {
    fake.enqueue('x'.repeat(100));
    const res = await openai.chat.completions.create({ model: 'm', messages, max_completion_tokens: 5 });
    expect(res.choices[0]!.message.content).toBe('x'.repeat(20));
    expect(res.choices[0]!.finish_reason).toBe('length');
    fake.enqueue({ text: 'short', finishReason: 'length' });
    const chunks = await collect(
      await openai.chat.completions.create({ model: 'm', messages, stream: true }),
    );
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('length');
    expect(chunks.at(-1)!.usage).toBeUndefined();
  });

  it('uses scripted replies in order, then the default, and handler functions', async () => {
    fake.enqueue('one', { text: 'two' });
    fake.setDefault((req) => `model=${req.body.model} n=${req.body.messages.length}`);
    const ask = async () =>
      (await openai.chat.completions.create({ model: 'fake-small', messages })).choices[0]!.message.content;
    expect(await ask()).toBe('one');
    expect(await ask()).toBe('two');
    expect(await ask()).toBe('model=fake-small n=2');
    fake.setDefault(null);
    expect(await ask()).toBe('Echo: Say hello');
    expect(fake.stats()).toMatchObject({ requests: 4, queued: 0 });
  });

  it('lists models', async () => {
    const page = await openai.models.list();
    expect(page.data.map((m) => m.id)).toEqual(['fake-small', 'fake-large']);
  });

  it('refuses a wrong API key with 401 in OpenAI error shape', async () => {
    const wrong = new OpenAI({ baseURL: fake.url, apiKey: 'sk-wrong', maxRetries: 0 });
    const err = await wrong.chat.completions.create({ model: 'm', messages }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((err as APIError).status).toBe(401);
    expect((err as APIError).code).toBe('invalid_api_key');
  });

  it('surfaces scripted 429, 500 and 503 as APIError with the status and retry-after', async () => {
    fake.enqueue(
      {
        error: {
          status: 429,
          message: 'Rate limit reached',
          code: 'rate_limit_exceeded',
          retryAfterSeconds: 7,
        },
      },
      { error: { status: 500 } },
      { error: { status: 503, message: 'overloaded' } },
    );
    const e429 = await openai.chat.completions.create({ model: 'm', messages }).catch((e: unknown) => e);
    expect(e429).toBeInstanceOf(OpenAI.RateLimitError);
    expect((e429 as APIError).status).toBe(429);
    expect((e429 as APIError).headers?.get('retry-after')).toBe('7');
    expect((e429 as APIError).error).toEqual({
      message: 'Rate limit reached',
      type: 'requests',
      param: null,
      code: 'rate_limit_exceeded',
    });
    const e500 = await openai.chat.completions
      .create({ model: 'm', messages, stream: true })
      .catch((e: unknown) => e);
    expect(e500).toBeInstanceOf(OpenAI.InternalServerError);
    expect((e500 as APIError).status).toBe(500);
    const e503 = await openai.chat.completions.create({ model: 'm', messages }).catch((e: unknown) => e);
    expect(e503).toBeInstanceOf(OpenAI.APIError);
    expect((e503 as APIError).status).toBe(503);
    expect(fake.stats()).toMatchObject({ requests: 3, errors: 3, completed: 0 });
  });

  it('a malformed chunk makes the stream fail', async () => {
    fake.enqueue({ text: 'some text here', chunkSize: 2, fault: 'malformed', faultAfterChunks: 2 });
    const stream = await openai.chat.completions.create({ model: 'm', messages, stream: true });
    const seen: string[] = [];
    const err = await (async () => {
      for await (const chunk of stream) seen.push(chunk.choices[0]?.delta.content ?? '');
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SyntaxError);
    expect(seen.join('')).toBe('some');
    expect(fake.stats()).toMatchObject({ faults: 1 });
  });

  it('an error event mid-stream surfaces as APIError', async () => {
    fake.enqueue({ text: 'abcdef', chunkSize: 2, fault: 'error-event', faultAfterChunks: 1 });
    const stream = await openai.chat.completions.create({ model: 'm', messages, stream: true });
    const err = await collect(stream).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
  });

  it('a stream cut mid-way (no [DONE]) makes the iteration fail', async () => {
    fake.enqueue({ text: 'x'.repeat(40), chunkSize: 4, fault: 'cut', faultAfterChunks: 3 });
    const stream = await openai.chat.completions.create({ model: 'm', messages, stream: true });
    const seen: string[] = [];
    const err = await (async () => {
      for await (const chunk of stream) seen.push(chunk.choices[0]?.delta.content ?? '');
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(seen.join('')).toBe('x'.repeat(12));
    const stats = await until((s) => s.active === 0);
    expect(stats).toMatchObject({ faults: 1, aborted: 0 });
    expect(fake.requests()[0]!.outcome).toBe('fault');

    fake.enqueue({ fault: 'cut' });
    const err2 = await openai.chat.completions.create({ model: 'm', messages }).catch((e: unknown) => e);
    expect(err2).toBeInstanceOf(OpenAI.APIConnectionError);
  });

  it('detects a client abort through AbortSignal in the middle of a slow stream', async () => {
    fake.enqueue({ text: 'y'.repeat(200), chunkSize: 1, chunkDelayMs: 20 });
    const controller = new AbortController();
    const stream = await openai.chat.completions.create(
      { model: 'm', messages, stream: true },
      { signal: controller.signal },
    );
    let received = 0;
    const err = await (async () => {
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta.content) received++;
        if (received === 3) controller.abort();
      }
    })().catch((e: unknown) => e);
    if (err !== undefined) expect(err).toBeInstanceOf(OpenAI.APIUserAbortError);
    expect(received).toBeLessThan(200);
    const stats = await until((s) => s.aborted === 1);
    expect(stats).toMatchObject({ active: 0, completed: 0 });
    expect(fake.requests()[0]!.outcome).toBe('aborted');
  });

  it('a hanging response runs into the client timeout and counts as aborted', async () => {
    fake.enqueue({ fault: 'hang' }, { fault: 'hang', faultAfterChunks: 0 });
    const err = await openai.chat.completions
      .create({ model: 'm', messages }, { timeout: 300 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
    const stream = await openai.chat.completions.create(
      { model: 'm', messages, stream: true },
      { signal: AbortSignal.timeout(300) },
    );
    const chunks = await collect(stream).catch(() => []);
    expect(chunks.every((c) => !c.choices[0]?.delta.content)).toBe(true);
    expect(await until((s) => s.aborted === 2)).toMatchObject({ active: 0 });
  });

  it('tracks how many requests are served at once', async () => {
    const n = 5;
    fake.setDefault(async () => {
      await fake.waitForRequests(n);
      return 'done';
    });
    const replies = await Promise.all(
      Array.from({ length: n }, () =>
        openai.chat.completions.create({ model: 'm', messages, stream: true }).then(collect),
      ),
    );
    expect(replies).toHaveLength(n);
    expect(fake.stats()).toMatchObject({ requests: n, completed: n, maxConcurrent: n, active: 0 });
  });
});

describe('FakeLlmClient (HTTP control API)', () => {
  it('scripts, inspects and resets the fake from outside the process', async () => {
    const control = new FakeLlmClient(fake.url);
    await control.enqueue('from the control API', { error: { status: 429, retryAfterSeconds: 1 } });
    expect((await control.stats()).queued).toBe(2);
    const res = await openai.chat.completions.create({ model: 'm', messages, temperature: 0 });
    expect(res.choices[0]!.message.content).toBe('from the control API');
    await expect(openai.chat.completions.create({ model: 'm', messages })).rejects.toBeInstanceOf(
      OpenAI.RateLimitError,
    );
    await control.setDefault({ text: 'default via HTTP' });
    const again = await openai.chat.completions.create({ model: 'm', messages });
    expect(again.choices[0]!.message.content).toBe('default via HTTP');

    const requests = await control.waitForRequests(3);
    expect(requests.map((r) => r.body.temperature)).toEqual([0, undefined, undefined]);
    expect(await control.stats()).toMatchObject({ requests: 3, completed: 2, errors: 1 });
    await control.reset();
    expect(await control.requests()).toEqual([]);
    expect((await openai.chat.completions.create({ model: 'm', messages })).choices[0]!.message.content).toBe(
      'Echo: Say hello',
    );
  });

  it('rejects bad control requests', async () => {
    const res = await fetch(`${fake.origin}/_fake/enqueue`, { method: 'POST', body: '{"replies": 3}' });
    expect(res.status).toBe(400);
  });
});
