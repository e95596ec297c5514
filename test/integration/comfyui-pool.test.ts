import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type FakeComfy, runFakeComfy, startFakeComfy } from '../../src/dev/fake-comfyui/index.js';
import {
  type ApiWorkflow,
  applyWorkflow,
  type ComfyBackendConfig,
  ComfyExecutionError,
  ComfyPool,
  ComfyTimeoutError,
  ComfyUnavailableError,
  ComfyValidationError,
  loadWorkflows,
  parseComfyBackends,
  type WorkflowDefinition,
} from '../../src/integrations/comfyui/index.js';
import { Metrics } from '../../src/platform/metrics.js';
import { silentLogger } from '../helpers/db.js';

let def: WorkflowDefinition;
let metrics: Metrics;
const cleanup: (() => Promise<void>)[] = [];

async function fakes(n: number, opts: Parameters<typeof startFakeComfy>[0] = {}): Promise<FakeComfy[]> {
  const out = await Promise.all(
    Array.from({ length: n }, () => startFakeComfy({ stepMs: 5, maxImageSide: 64, ...opts })),
  );
  for (const f of out) cleanup.push(() => f.close());
  return out;
}

async function poolOf(backends: ComfyBackendConfig[]): Promise<ComfyPool> {
  const pool = new ComfyPool({
    backends,
    logger: silentLogger,
    metrics,
    pollIntervalMs: 40,
    silenceMs: 400,
    unreachableMs: 300,
    probeIntervalMs: 50,
    reconnectMinMs: 40,
    reconnectMaxMs: 200,
  });
  cleanup.unshift(() => pool.close());
  await pool.start();
  return pool;
}

const backend = (name: string, fake: FakeComfy, slots = 1): ComfyBackendConfig => ({
  name,
  baseUrl: fake.url,
  slots,
});
const graph = (prompt: string): ApiWorkflow =>
  applyWorkflow(def, { prompt, seed: 7, steps: 4, width: 256, height: 256 });

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const data = await metrics.registry.getSingleMetric(name)?.get();
  return data?.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0;
}

beforeAll(async () => {
  def = (await loadWorkflows()).get('text-to-image') as WorkflowDefinition;
});
afterEach(async () => {
  for (const fn of cleanup.splice(0)) await fn();
  metrics = new Metrics({ defaultMetrics: false });
});
metrics = new Metrics({ defaultMetrics: false });

describe('ComfyUI backend pool', () => {
  it('sends work to the healthy backend while the other is down, then probes the other back in', async () => {
    const [a, b] = (await fakes(2)) as [FakeComfy, FakeComfy];
    b.setAvailable(false);
    const pool = await poolOf([backend('a', a), backend('b', b)]);
    expect(pool.status().map((s) => [s.name, s.healthy])).toEqual([
      ['a', true],
      ['b', false],
    ]);
    expect(pool.status()[1]?.lastError).toMatch(/503/);
    expect(await metric('vitte_comfyui_backend_up', { backend: 'b' })).toBe(0);

    const results = await Promise.all(
      ['one', 'two', 'three'].map((p, i) =>
        pool.run({ promptId: `down-${i}`, workflow: graph(p), timeoutMs: 10_000 }),
      ),
    );
    expect(results.map((r) => r.backend)).toEqual(['a', 'a', 'a']);
    expect(a.stats().accepted).toBe(3);
    expect(b.stats().accepted).toBe(0);

    b.setAvailable(true);
    await vi.waitFor(() => expect(pool.status()[1]).toMatchObject({ healthy: true, socketOpen: true }));
    expect(await metric('vitte_comfyui_backend_up', { backend: 'b' })).toBe(1);
  });

  it('fails fast when no backend is healthy, and takes a backend out when it stops answering mid-run', async () => {
    const [a] = (await fakes(1)) as [FakeComfy];
    const pool = await poolOf([backend('a', a)]);
    a.failPrompt('cut', { kind: 'hang' });
    const run = pool.run({ promptId: 'cut', workflow: graph('cut'), timeoutMs: 10_000 });
    await vi.waitFor(() => expect(a.queue().running).toEqual(['cut']));
    a.setAvailable(false);
    await expect(run).rejects.toBeInstanceOf(ComfyUnavailableError);
    expect(pool.status()[0]?.healthy).toBe(false);
    await expect(pool.acquire()).rejects.toThrow(/no healthy ComfyUI backend/);
    expect(await metric('vitte_comfyui_runs_total', { backend: 'a', outcome: 'unavailable' })).toBe(1);
    a.setAvailable(true);
    await fetch(`${a.url}/interrupt`, { method: 'POST', body: '{}' });
  });

  it('respects the slots of each backend and hands a freed slot to the next waiter', async () => {
    const [a] = (await fakes(1)) as [FakeComfy];
    const pool = await poolOf([backend('a', a, 2)]);
    const first = await pool.acquire();
    const second = await pool.acquire();
    expect(pool.status()[0]?.inFlight).toBe(2);
    await expect(pool.acquire({ timeoutMs: 100 })).rejects.toBeInstanceOf(ComfyTimeoutError);
    expect(await metric('vitte_comfyui_runs_total', { backend: 'none', outcome: 'timeout' })).toBe(1);
    const third = pool.acquire();
    first.release();
    first.release();
    expect((await third).backend).toBe('a');
    expect(pool.status()[0]?.inFlight).toBe(2);
    expect(await metric('vitte_comfyui_in_flight', { backend: 'a' })).toBe(2);
    second.release();
    (await third).release();
    expect(pool.status()[0]?.inFlight).toBe(0);
  });

  it('picks the backend with the shortest queue', async () => {
    const [a, b] = (await fakes(2)) as [FakeComfy, FakeComfy];
    const pool = await poolOf([backend('a', a, 4), backend('b', b, 4)]);
    // Someone else keeps backend a busy: one prompt running, one waiting.
    a.failNext({ kind: 'hang' });
    for (const id of ['busy-1', 'busy-2']) {
      await fetch(`${a.url}/prompt`, {
        method: 'POST',
        body: JSON.stringify({ prompt: graph(id), client_id: 'someone-else', prompt_id: id }),
      });
    }
    await vi.waitFor(() => expect(pool.status()[0]?.queueRemaining).toBe(2));
    const result = await pool.run({
      promptId: 'short-queue',
      workflow: graph('fast lane'),
      timeoutMs: 10_000,
    });
    expect(result.backend).toBe('b');
    expect(await metric('vitte_comfyui_queue_remaining', { backend: 'a' })).toBe(2);
    await fetch(`${a.url}/queue`, { method: 'POST', body: JSON.stringify({ clear: true }) });
    await fetch(`${a.url}/interrupt`, { method: 'POST', body: '{}' });
  });

  it('retries an out-of-memory prompt once on another backend through the exclusion list', async () => {
    const [a, b] = (await fakes(2)) as [FakeComfy, FakeComfy];
    const pool = await poolOf([backend('a', a), backend('b', b)]);
    a.failNext({ kind: 'oom' });
    const err = (await pool
      .run({ promptId: 'oom-1', workflow: graph('big'), timeoutMs: 10_000, preferBackend: 'a' })
      .catch((e: unknown) => e)) as ComfyExecutionError;
    expect(err).toBeInstanceOf(ComfyExecutionError);
    expect(err).toMatchObject({ outOfMemory: true, backend: 'a' });
    const chosen: string[] = [];
    const retry = await pool.run({
      promptId: 'oom-1.retry',
      workflow: graph('big'),
      timeoutMs: 10_000,
      exclude: [err.backend],
      onBackend: (name) => void chosen.push(name),
    });
    expect(retry.backend).toBe('b');
    expect(chosen).toEqual(['b']);
    expect(await metric('vitte_comfyui_runs_total', { backend: 'a', outcome: 'out_of_memory' })).toBe(1);
    // With every healthy backend excluded, the exclusion gives way rather than leave the run waiting.
    b.setAvailable(false);
    await vi.waitFor(() => expect(pool.status()[1]?.healthy).toBe(false));
    const last = await pool.acquire({ exclude: ['a', 'b'] });
    expect(last.backend).toBe('a');
    last.release();
  });

  it('sends the Authorization header on requests and the socket; a wrong one is refused', async () => {
    const [secured] = (await fakes(1, { authorization: 'Bearer right-token' })) as [FakeComfy];
    const parsed = parseComfyBackends(`${secured.url};auth=Bearer right-token;slots=2`);
    if (!parsed.ok) throw new Error(parsed.errors.join());
    const pool = await poolOf(parsed.backends);
    await vi.waitFor(() => expect(pool.status()[0]).toMatchObject({ healthy: true, socketOpen: true }));
    const result = await pool.run({ promptId: 'auth-ok', workflow: graph('secret'), timeoutMs: 10_000 });
    expect(result.contentType).toBe('image/png');
    expect(secured.stats().unauthorized).toBe(0);

    const wrong = parseComfyBackends(`${secured.url.replace('http://', 'http://user:wrong@')}`);
    if (!wrong.ok) throw new Error(wrong.errors.join());
    const refused = await poolOf(wrong.backends);
    expect(refused.status()[0]).toMatchObject({ healthy: false, lastError: expect.stringMatching(/401/) });
    await vi.waitFor(() => expect(secured.stats().unauthorized).toBeGreaterThanOrEqual(2));
    expect(refused.status()[0]?.socketOpen).toBe(false);
  });

  it('scripts faults through the HTTP control API and checks a workflow against /object_info', async () => {
    const [a] = (await fakes(1)) as [FakeComfy];
    const pool = await poolOf([backend('a', a)]);
    const bad = await fetch(`${a.url}/_fake/faults`, {
      method: 'POST',
      body: JSON.stringify({ fault: { kind: 'meteor' } }),
    });
    expect(bad.status).toBe(400);
    const res = await fetch(`${a.url}/_fake/faults`, {
      method: 'POST',
      body: JSON.stringify({ fault: { kind: 'reject' } }),
    });
    expect(res.status).toBe(200);
    await expect(pool.run({ promptId: 'ctl', workflow: graph('x'), timeoutMs: 5000 })).rejects.toBeInstanceOf(
      ComfyValidationError,
    );
    const stats = (await (await fetch(`${a.url}/_fake/stats`)).json()) as { rejected: number };
    expect(stats.rejected).toBe(1);

    expect(await pool.checkWorkflow(def.graph)).toEqual([{ backend: 'a', missing: [] }]);
    const custom = { ...def.graph, 10: { class_type: 'UpscaleModelLoader', inputs: {} } };
    expect(await pool.checkWorkflow(custom)).toEqual([{ backend: 'a', missing: ['UpscaleModelLoader'] }]);
  });

  it('runs standalone until told to stop', async () => {
    const lines: string[] = [];
    const stop = new AbortController();
    const running = runFakeComfy({ port: 0, log: (l) => lines.push(l), signal: stop.signal });
    await vi.waitFor(() =>
      expect(lines[0]).toMatch(/^fake ComfyUI listening on (http:\/\/127\.0\.0\.1:\d+)/),
    );
    const url = /(http:\/\/[^ ]+)/.exec(lines[0] as string)?.[1];
    const stats = (await (await fetch(`${url}/system_stats`)).json()) as { devices: { type: string }[] };
    expect(stats.devices[0]?.type).toBe('cuda');
    stop.abort();
    await running;
    expect(lines.at(-1)).toBe('fake ComfyUI stopping (aborted)');
    await expect(fetch(`${url}/system_stats`)).rejects.toThrow();
  });
});
