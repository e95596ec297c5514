import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type FakeComfy, startFakeComfy } from '../../src/dev/fake-comfyui/index.js';
import {
  type AttemptResult,
  ImageAttempt,
  type ImageAttemptDeps,
} from '../../src/domain/images/image-attempt.js';
import { ImageJobs } from '../../src/domain/images/image-jobs.js';
import { ImageJobsRepository } from '../../src/domain/images/image-jobs.repository.js';
import type { ImageOutput } from '../../src/domain/images/image-output.js';
import { CreditsImageQuota } from '../../src/domain/images/image-quota.js';
import { createImagesMetrics } from '../../src/domain/images/images.metrics.js';
import { applyWorkflow, ComfyPool, loadWorkflows } from '../../src/integrations/comfyui/index.js';
import type { ImageJob } from '../../src/platform/db/schema.js';
import { Metrics } from '../../src/platform/metrics.js';
import { JobTimeoutError } from '../../src/platform/queue/index.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { silentLogger } from '../helpers/db.js';

/**
 * An attempt that loses its hold stops following its run but leaves the prompt on the backend: the
 * prompt id is the job's, so the attempt that took over follows that very prompt. Only a stop that
 * ends the job (the user's cancel) takes it off the backend.
 */
let t: TestApp;
let fake: FakeComfy;
let pool: ComfyPool;
let deps: ImageAttemptDeps;
let cancelled: (() => void) | undefined;
let nextUser = 72_000;

const output: ImageOutput = {
  progress: () => {},
  photo: async () => ({ kind: 'sent', messageId: 1, fileId: undefined }),
  fail: async () => {},
  close: async () => {},
};

beforeAll(async () => {
  fake = await startFakeComfy({ stepMs: 5, maxImageSide: 64 });
  t = await createTestApp({ COMFYUI_URLS: `${fake.url};name=gpu` }, { label: 'image_attempt_lease' });
  const metrics = new Metrics({ defaultMetrics: false });
  pool = new ComfyPool({
    backends: [{ name: 'gpu', baseUrl: fake.url, slots: 2 }],
    logger: silentLogger,
    metrics,
    pollIntervalMs: 40,
    probeIntervalMs: 1_000,
  });
  await pool.start();
  const repo = new ImageJobsRepository(t.app.tx);
  const imagesMetrics = createImagesMetrics(metrics);
  deps = {
    repo,
    jobs: new ImageJobs({
      tx: t.app.tx,
      repo,
      quota: new CreditsImageQuota(t.app.imageCredits, t.app.subscriptions),
      metrics: imagesMetrics,
      logger: silentLogger,
      onFinished: async () => {},
    }),
    images: {
      onCancel: (_jobId, stop) => {
        cancelled = stop;
        return () => {
          cancelled = undefined;
        };
      },
    },
    settings: t.app.settings,
    generator: pool,
    workflows: await loadWorkflows(),
    store: t.app.objects,
    llm: t.app.llm,
    users: t.app.users,
    output: () => output,
    metrics: imagesMetrics,
    logger: silentLogger,
    // Renewed every 100 ms: the attempt learns of a lost hold at once.
    leaseMs: 300,
  };
});
afterAll(async () => {
  await pool?.close();
  await fake?.close();
  await t?.close();
});
afterEach(async () => {
  await fetch(`${fake.url}/queue`, { method: 'POST', body: JSON.stringify({ clear: true }) });
  await fetch(`${fake.url}/interrupt`, { method: 'POST', body: '{}' });
  // The prompts a test left behind end before the next test's counters start.
  await vi.waitFor(() => expect(fake.queue()).toEqual({ running: [], pending: [] }));
  fake.reset();
});

async function queuedJob(): Promise<ImageJob> {
  nextUser += 1;
  const { user } = await t.app.users.register({ id: nextUser, first_name: `L${nextUser}` });
  const r = await t.app.images.request(user, user.id, 'a lighthouse at night');
  if (r.kind !== 'queued') throw new Error(`not queued: ${r.kind}`);
  return r.job;
}

/** Starts an attempt and waits until its prompt is where `where` says on the backend. */
async function attemptWith(job: ImageJob, where: 'running' | 'pending', signal?: AbortSignal) {
  const promptId = `${job.run_key}-1`;
  fake.failPrompt(promptId, { kind: 'hang' });
  const result = new ImageAttempt(deps, job.id, { isLastAttempt: false, signal }).run();
  await vi.waitFor(() => expect(fake.queue()[where]).toContain(promptId), { timeout: 10_000 });
  return { promptId, result };
}

/** Another attempt takes the job over (the old holder's lease lapsed while it was stalled). */
async function takeOver(job: ImageJob): Promise<void> {
  await t.app.db
    .updateTable('image_jobs')
    .set({ claim_token: randomUUID() })
    .where('id', '=', job.id)
    .execute();
}

describe('an attempt that loses its hold', () => {
  it('leaves a running prompt running for the attempt that took over', async () => {
    const job = await queuedJob();
    const { promptId, result } = await attemptWith(job, 'running');
    await takeOver(job);
    expect(await result).toEqual<AttemptResult>({
      kind: 'done',
      status: 'the picture was cancelled or taken over',
    });
    expect(fake.stats()).toMatchObject({ interruptRequests: 0, deleted: 0, interrupted: 0 });
    expect(fake.queue().running).toEqual([promptId]);
  });

  it('leaves a queued prompt in the queue for the attempt that took over', async () => {
    // Someone else's prompt holds the backend, so ours waits behind it.
    fake.failPrompt('someone-else', { kind: 'hang' });
    const prompt = applyWorkflow(deps.workflows.get('text-to-image')!, { prompt: 'theirs', seed: 1 });
    await fetch(`${fake.url}/prompt`, {
      method: 'POST',
      body: JSON.stringify({ prompt, client_id: 'someone-else', prompt_id: 'someone-else' }),
    });
    const job = await queuedJob();
    const { promptId, result } = await attemptWith(job, 'pending');
    await takeOver(job);
    expect((await result).kind).toBe('done');
    expect(fake.stats()).toMatchObject({ interruptRequests: 0, deleted: 0 });
    expect(fake.queue().pending).toEqual([promptId]);
  });

  it('at shutdown, hands the job back and leaves its prompt for the next attempt', async () => {
    const job = await queuedJob();
    const worker = new AbortController();
    const { promptId, result } = await attemptWith(job, 'running', worker.signal);
    worker.abort(new Error('SIGTERM'));
    expect(await result).toEqual({ kind: 'done', status: 'shutting down; picture handed back' });
    expect(fake.stats()).toMatchObject({ interruptRequests: 0, deleted: 0 });
    expect(fake.queue().running).toEqual([promptId]);
    expect(await deps.repo.state(job.id)).toMatchObject({ status: 'running', heldForMs: null });
  });

  it('past the job timeout, the prompt is interrupted and the job times out', async () => {
    const job = await queuedJob();
    const worker = new AbortController();
    const { result } = await attemptWith(job, 'running', worker.signal);
    worker.abort(new JobTimeoutError('images.generate', String(job.id), 1_000));
    expect((await result).kind).toBe('done');
    await vi.waitFor(() => expect(fake.stats()).toMatchObject({ interruptRequests: 1, interrupted: 1 }));
    expect((await deps.repo.state(job.id))?.status).toBe('timed_out');
  });

  it.each([
    ['its message arrives', true],
    ['only the lost hold tells the attempt', false],
  ])("the user's cancel still takes the prompt off the backend (%s)", async (_, told) => {
    const job = await queuedJob();
    const { result } = await attemptWith(job, 'running');
    await t.app.images.cancel(job.user_id, job.id);
    if (told) cancelled?.();
    expect((await result).kind).toBe('done');
    await vi.waitFor(() => expect(fake.stats()).toMatchObject({ interruptRequests: 1, interrupted: 1 }));
    expect(fake.queue().running).toEqual([]);
  });
});
