import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type FakeComfy, startFakeComfy } from '../../src/dev/fake-comfyui/index.js';
import {
  type ApiWorkflow,
  applyWorkflow,
  ComfyCancelledError,
  ComfyExecutionError,
  ComfyHttpClient,
  ComfyPool,
  ComfyTimeoutError,
  ComfyValidationError,
  loadWorkflows,
  type RunProgress,
  type WorkflowDefinition,
} from '../../src/integrations/comfyui/index.js';
import { Metrics } from '../../src/platform/metrics.js';
import { silentLogger } from '../helpers/db.js';

let fake: FakeComfy;
let metrics: Metrics;
let pool: ComfyPool;
let def: WorkflowDefinition;
const pools: ComfyPool[] = [];

function newPool(clientId?: string): ComfyPool {
  const p = new ComfyPool({
    backends: [{ name: 'gpu-a', baseUrl: fake.url, slots: 4 }],
    logger: silentLogger,
    metrics,
    pollIntervalMs: 40,
    silenceMs: 400,
    unreachableMs: 300,
    probeIntervalMs: 200,
    reconnectMinMs: 40,
    reconnectMaxMs: 200,
    ...(clientId ? { clientId } : {}),
  });
  pools.push(p);
  return p;
}

const graph = (prompt: string, steps = 6): ApiWorkflow =>
  applyWorkflow(def, { prompt, seed: 42, width: 512, height: 384, steps });

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const data = await metrics.registry.getSingleMetric(name)?.get();
  return data?.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0;
}

/** Another ComfyUI user's prompt, submitted behind our back. */
async function foreignPrompt(id: string, steps: number): Promise<void> {
  const http = new ComfyHttpClient(
    { name: 'other', baseUrl: fake.url, slots: 1 },
    { timeoutMs: 2000, slowTimeoutMs: 2000 },
  );
  await http.submit(graph(`someone else ${id}`, steps), 'someone-else', id);
}

beforeAll(async () => {
  fake = await startFakeComfy({ stepMs: 5, maxImageSide: 128 });
  metrics = new Metrics({ defaultMetrics: false });
  def = (await loadWorkflows()).get('text-to-image') as WorkflowDefinition;
  pool = newPool();
  await pool.start();
});
afterEach(() => fake.reset());
afterAll(async () => {
  for (const p of pools) await p.close();
  await fake.close();
});

describe('ComfyUI run against the fake over HTTP and /ws', () => {
  it('submits with our prompt id, reports progress and returns the PNG from /view', async () => {
    const events: RunProgress[] = [];
    const result = await pool.run({
      promptId: 'job-happy',
      workflow: graph('a red fox in the snow', 8),
      outputNode: def.outputNode,
      timeoutMs: 10_000,
      onProgress: (p) => events.push(p),
    });
    expect(result).toMatchObject({
      promptId: 'job-happy',
      backend: 'gpu-a',
      contentType: 'image/png',
      resumed: false,
    });
    expect(result.filename).toMatch(/^vitte_\d{5}_\.png$/);
    expect(result.bytes.subarray(1, 4).toString()).toBe('PNG');
    expect(result.bytes.toString('latin1')).toContain('a red fox in the snow');
    const firstRunning = events.findIndex((e) => e.phase === 'running');
    expect(events.slice(firstRunning).every((e) => e.phase === 'running')).toBe(true);
    const fractions = events.filter((e) => e.phase === 'running').map((e) => e.fraction);
    expect(fractions).toContain(1);
    expect(fractions.filter((f) => f > 0 && f < 1).length).toBeGreaterThanOrEqual(3);
    expect(fractions).toEqual([...fractions].sort((a, b) => a - b));
    expect(fake.stats()).toMatchObject({ submits: { 'job-happy': 1 }, completed: 1, viewRequests: 1 });
    expect(await metric('vitte_comfyui_runs_total', { backend: 'gpu-a', outcome: 'ok' })).toBe(1);
  });

  it('refuses a prompt id that cannot travel in a URL path', async () => {
    await expect(pool.run({ promptId: 'a/b', workflow: graph('x'), timeoutMs: 1000 })).rejects.toThrow(
      /promptId/,
    );
    expect(fake.stats().submits).toEqual({});
  });

  it('reports the queue position while another client is ahead', async () => {
    await foreignPrompt('ahead', 30);
    const events: RunProgress[] = [];
    await pool.run({
      promptId: 'job-behind',
      workflow: graph('behind'),
      timeoutMs: 10_000,
      onProgress: (p) => events.push(p),
    });
    expect(events).toContainEqual({ phase: 'queued', fraction: 0, queuePosition: 1 });
    expect(events.at(-1)).toMatchObject({ phase: 'running' });
  });

  it("turns ComfyUI's 400 into a validation error carrying error and node_errors, and never retries", async () => {
    const unknown = { ...graph('x'), 99: { class_type: 'NoSuchNode', inputs: {} } };
    const err = await pool
      .run({ promptId: 'job-400a', workflow: unknown, timeoutMs: 5000 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ComfyValidationError);
    expect(err).toMatchObject({
      retryable: false,
      comfyError: {
        type: 'invalid_prompt',
        message: 'Cannot execute because node NoSuchNode does not exist.',
      },
    });

    const badInput = graph('x');
    (badInput['3'] as ApiWorkflow[string]).inputs.cfg = 'lots';
    const err2 = (await pool
      .run({ promptId: 'job-400b', workflow: badInput, timeoutMs: 5000 })
      .catch((e: unknown) => e)) as ComfyValidationError;
    expect(err2.comfyError).toMatchObject({ type: 'prompt_outputs_failed_validation' });
    expect(err2.nodeErrors['3']).toMatchObject({
      class_type: 'KSampler',
      errors: [{ type: 'invalid_input_type' }],
    });

    const broken = graph('x');
    (broken['8'] as ApiWorkflow[string]).inputs.samples = ['77', 0];
    const err3 = (await pool
      .run({ promptId: 'job-400c', workflow: broken, timeoutMs: 5000 })
      .catch((e: unknown) => e)) as ComfyValidationError;
    expect(err3).toBeInstanceOf(ComfyValidationError);
    expect(Object.values(err3.nodeErrors)[0]?.errors[0]).toMatchObject({ details: "'77'" });

    expect(fake.stats().submits).toEqual({ 'job-400a': 1, 'job-400b': 1, 'job-400c': 1 });
    expect(fake.stats().accepted).toBe(0);
    expect(await metric('vitte_comfyui_runs_total', { backend: 'gpu-a', outcome: 'validation' })).toBe(3);
  });

  it('flags an out-of-memory execution error', async () => {
    fake.failPrompt('job-oom', { kind: 'oom' });
    const err = await pool
      .run({ promptId: 'job-oom', workflow: graph('huge'), timeoutMs: 5000 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ComfyExecutionError);
    expect(err).toMatchObject({ outOfMemory: true, retryable: true, details: { node_type: 'KSampler' } });

    fake.failPrompt('job-err', { kind: 'error', message: 'mat1 and mat2 shapes cannot be multiplied' });
    const plain = await pool
      .run({ promptId: 'job-err', workflow: graph('odd'), timeoutMs: 5000 })
      .catch((e: unknown) => e);
    expect(plain).toMatchObject({ name: 'ComfyExecutionError', outOfMemory: false, retryable: false });
  });

  it('interrupts a hung prompt at the deadline and delivers nothing late', async () => {
    fake.failPrompt('job-hang', { kind: 'hang' });
    const events: RunProgress[] = [];
    const err = await pool
      .run({
        promptId: 'job-hang',
        workflow: graph('stuck', 40),
        timeoutMs: 600,
        onProgress: (p) => events.push(p),
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ComfyTimeoutError);
    expect(fake.stats().interruptRequests).toBe(1);
    await vi.waitFor(() => expect(fake.stats().interrupted).toBe(1));
    const seen = events.length;
    await new Promise((r) => setTimeout(r, 150));
    expect(events.length).toBe(seen);
    expect(fake.queue()).toEqual({ running: [], pending: [] });
  });

  it('takes a prompt still pending at the deadline off the queue and interrupts nothing', async () => {
    fake.failPrompt('blocker', { kind: 'hang' });
    await foreignPrompt('blocker', 10);
    await vi.waitFor(() => expect(fake.queue().running).toEqual(['blocker']));
    const err = await pool
      .run({ promptId: 'job-pending', workflow: graph('waits'), timeoutMs: 300 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ComfyTimeoutError);
    expect(fake.stats()).toMatchObject({ deleted: 1, interruptRequests: 0 });
    expect(fake.queue()).toEqual({ running: ['blocker'], pending: [] });
    await fetch(`${fake.url}/interrupt`, { method: 'POST', body: '{}' });
    await vi.waitFor(() => expect(fake.queue().running).toEqual([]));
  });

  it('never interrupts a prompt that is not ours, even when our submit lands after the deadline', async () => {
    fake.failPrompt('blocker-2', { kind: 'hang' });
    await foreignPrompt('blocker-2', 10);
    await vi.waitFor(() => expect(fake.queue().running).toEqual(['blocker-2']));
    fake.failPrompt('job-late', { kind: 'slow-submit', ms: 500 });
    const err = await pool
      .run({ promptId: 'job-late', workflow: graph('late'), timeoutMs: 200 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ComfyTimeoutError);
    expect(fake.queue().running).toEqual(['blocker-2']);
    // The submit lands after the deadline: the run takes its prompt off the queue again.
    await vi.waitFor(() => expect(fake.stats()).toMatchObject({ accepted: 2, deleted: 1 }));
    expect(fake.queue()).toEqual({ running: ['blocker-2'], pending: [] });
    expect(fake.stats().interruptRequests).toBe(0);
    await fetch(`${fake.url}/interrupt`, { method: 'POST', body: '{}' });
    await vi.waitFor(() => expect(fake.queue().running).toEqual([]));
  });

  it('stops on abort: cancelled, and the running prompt is interrupted', async () => {
    const controller = new AbortController();
    const run = pool.run({
      promptId: 'job-abort',
      workflow: graph('abandoned', 200),
      timeoutMs: 10_000,
      signal: controller.signal,
      onProgress: (p) => p.fraction > 0 && controller.abort(),
    });
    await expect(run).rejects.toBeInstanceOf(ComfyCancelledError);
    expect(fake.stats().interruptRequests).toBe(1);
    await vi.waitFor(() => expect(fake.stats()).toMatchObject({ interrupted: 1, completed: 0 }));
  });

  it('finishes from /history when the socket drops mid-run', async () => {
    fake.failPrompt('job-drop', { kind: 'drop-socket' });
    const before = await metric('vitte_comfyui_history_fallback_polls_total', { backend: 'gpu-a' });
    const connections = fake.stats().socketConnections;
    const result = await pool.run({
      promptId: 'job-drop',
      workflow: graph('dropped', 20),
      timeoutMs: 10_000,
    });
    expect(result.bytes.subarray(1, 4).toString()).toBe('PNG');
    expect(await metric('vitte_comfyui_history_fallback_polls_total', { backend: 'gpu-a' })).toBeGreaterThan(
      before,
    );
    await vi.waitFor(() => expect(fake.stats().socketConnections).toBeGreaterThan(connections));
  });

  it('finishes from /history when the socket stays silent about the prompt', async () => {
    fake.failPrompt('job-silent', { kind: 'silent' });
    const result = await pool.run({ promptId: 'job-silent', workflow: graph('quiet'), timeoutMs: 10_000 });
    expect(result.resumed).toBe(false);
    expect(fake.stats().historyRequests).toBeGreaterThan(1);
  });

  it('after a crash, a new client with the same prompt id follows the run instead of submitting again', async () => {
    fake.failPrompt('job-crash', { kind: 'slow', stepMs: 30 });
    const crashed = newPool('crashed-worker');
    await crashed.start();
    const orphan = crashed.run({ promptId: 'job-crash', workflow: graph('survivor', 10), timeoutMs: 10_000 });
    await vi.waitFor(() => expect(fake.queue().running).toEqual(['job-crash']));
    await crashed.close();

    const restarted = newPool('restarted-worker');
    await restarted.start();
    const fallbacks = await metric('vitte_comfyui_history_fallback_polls_total', { backend: 'gpu-a' });
    const result = await restarted.run({
      promptId: 'job-crash',
      workflow: graph('survivor', 10),
      timeoutMs: 10_000,
    });
    expect(result).toMatchObject({ resumed: true, contentType: 'image/png' });
    // Its events go to the crashed client's id only: the new one learns the end from /history.
    expect(await metric('vitte_comfyui_history_fallback_polls_total', { backend: 'gpu-a' })).toBeGreaterThan(
      fallbacks,
    );
    const again = await restarted.run({
      promptId: 'job-crash',
      workflow: graph('survivor', 10),
      timeoutMs: 10_000,
    });
    expect(again.bytes.equals(result.bytes)).toBe(true);
    expect(fake.stats().submits).toEqual({ 'job-crash': 1 });
    await orphan.catch(() => undefined);
  });

  it('follows the id an older ComfyUI makes up when it ignores ours', async () => {
    const legacy = await startFakeComfy({ stepMs: 5, maxImageSide: 64, legacyPromptIds: true });
    const old = new ComfyPool({
      backends: [{ name: 'old', baseUrl: legacy.url, slots: 1 }],
      logger: silentLogger,
      metrics: new Metrics({ defaultMetrics: false }),
      pollIntervalMs: 40,
    });
    try {
      await old.start();
      const result = await old.run({ promptId: 'job-legacy', workflow: graph('vintage'), timeoutMs: 10_000 });
      expect(result.contentType).toBe('image/png');
      const [comfyId] = Object.keys(legacy.stats().submits);
      expect(comfyId).toMatch(/^[0-9a-f-]{36}$/);
    } finally {
      await old.close();
      await legacy.close();
    }
  });
});
