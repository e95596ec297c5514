import { afterAll, beforeAll, beforeEach } from 'vitest';
import { type FakeComfy, startFakeComfy } from '../../src/dev/fake-comfyui/index.js';
import { createFakeLlm } from '../../src/dev/fake-llm/index.js';
import type { ImageJob } from '../../src/platform/db/schema.js';
import { startSystem, type TestSystem } from './system.js';

export type FakeLlm = Awaited<ReturnType<typeof createFakeLlm>>;

export interface ImageSystem {
  s: TestSystem;
  llm: FakeLlm;
  /** Backends A and B, in COMFYUI_URLS order (A is chosen first when both are idle). */
  a: FakeComfy;
  b: FakeComfy;
}

/**
 * For a describe block: the whole product (startSystem) with two fake ComfyUI backends named A and
 * B and a fake LLM, started before its tests. Faults and the LLM's script are reset before each
 * test; `down: ['B']` starts with B answering 503 (the pool's first probe marks it unhealthy).
 */
export function useImageSystem(
  opts: {
    label: string;
    redis?: boolean;
    /** A function is called when the system starts (for servers another beforeAll started). */
    env?: Record<string, string> | (() => Record<string, string>);
    stepMs?: number;
    down?: ('A' | 'B')[];
    settings?: Record<string, unknown>;
  },
  ready: (system: ImageSystem) => void,
): void {
  let sys: ImageSystem | undefined;
  beforeAll(async () => {
    const stepMs = opts.stepMs ?? 40;
    const [a, b] = await Promise.all([
      startFakeComfy({ stepMs, maxImageSide: 64 }),
      startFakeComfy({ stepMs, maxImageSide: 64 }),
    ]);
    if (opts.down?.includes('A')) a.setAvailable(false);
    if (opts.down?.includes('B')) b.setAvailable(false);
    const llm = await createFakeLlm();
    const s = await startSystem({
      mode: 'webhook',
      label: opts.label,
      redis: opts.redis ?? true,
      env: {
        COMFYUI_URLS: `${a.url};name=A,${b.url};name=B`,
        LLM_BASE_URL: llm.url,
        LLM_MAX_RETRIES: '0',
        BOT_RATE_LIMIT_POINTS: '1000',
        ...(typeof opts.env === 'function' ? opts.env() : opts.env),
      },
    });
    for (const [key, value] of Object.entries(opts.settings ?? {})) {
      await s.app.settings.set(key as never, value);
    }
    sys = { s, llm, a: a as FakeComfy, b: b as FakeComfy };
    ready(sys);
  }, 60_000);
  afterAll(async () => {
    await sys?.s.close();
    await Promise.all([sys?.a.close(), sys?.b.close(), sys?.llm.close()]);
  });
  beforeEach(async () => {
    sys?.a.reset();
    sys?.b.reset();
    sys?.llm.reset();
    await sys?.s.tg.clearFaults();
  });
}

/** The user's picture jobs, oldest first. */
export function jobsOf(s: TestSystem, userId: number): Promise<ImageJob[]> {
  return s.app.db.selectFrom('image_jobs').selectAll().where('user_id', '=', userId).orderBy('id').execute();
}

/** Waits until the user's newest job has ended, and returns it. */
export function finished(s: TestSystem, userId: number, timeoutMs = 20_000): Promise<ImageJob> {
  return s.tg.waitFor(
    async () => {
      const job = (await jobsOf(s, userId)).at(-1);
      return job && !['queued', 'running', 'delivering'].includes(job.status) ? job : undefined;
    },
    `a finished picture of user ${userId}`,
    { timeoutMs, intervalMs: 50 },
  );
}

/**
 * Waits until the placeholder (the user's first bot message) says `text`: it is edited after the
 * job's end commits, a Telegram call that can come after `finished` returns.
 */
export function placeholderSays(s: TestSystem, userId: number, text: RegExp): Promise<true> {
  return s.tg.waitFor(
    async () => (text.test((await s.tg.botMessages(userId))[0]?.text ?? '') ? true : undefined),
    `the placeholder saying ${text}`,
  );
}

export async function imagesUsed(s: TestSystem, userId: number): Promise<number> {
  return (await s.app.subscriptions.get(userId)).images_used;
}

/** Every submit either fake counted, over both backends. */
export function submits(...fakes: FakeComfy[]): number {
  return fakes.reduce((n, f) => n + Object.values(f.stats().submits).reduce((x, y) => x + y, 0), 0);
}
