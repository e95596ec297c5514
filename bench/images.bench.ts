import { type FakeComfy, startFakeComfy } from '../src/dev/fake-comfyui/index.js';
import { settingDefinitions } from '../src/domain/settings/settings.definitions.js';
import { SettingsRepository } from '../src/domain/settings/settings.repository.js';
import { createDatabase } from '../src/platform/db/database.js';
import { createTransactor } from '../src/platform/db/transactor.js';
import { silentLogger } from '../test/helpers/db.js';
import {
  type BenchEnvironment,
  startBenchEnvironment,
  startVitteRole,
  type VitteRole,
  WEBHOOK_PATH,
  WEBHOOK_SECRET,
} from './harness/bench-environment.js';
import { runClosedLoop, type WebhookPoster, webhookPoster } from './harness/load-generator.js';
import { registerUsers } from './harness/scenarios.js';
import { benchUser, createUpdateFactory } from './harness/telegram-updates.js';
import type { Report } from './run.js';

const USERS = 24;

const WARMUP_MS = 2_000;
const MEASURE_MS = 8_000;
const LATENCY_SAMPLES = 20;
const PHOTO_WITHIN_MS = 30_000;
/** Sampler steps of each picture: with a step time near zero, what is left is the platform's cost. */
const STEPS = 4;

const updates = createUpdateFactory();

/** Settings as an operator would set them (the harness gives unlimited image quotas already). */
async function configure(env: BenchEnvironment): Promise<void> {
  const database = createDatabase(
    { url: env.databaseUrl, dataDir: '/tmp', poolMax: 1, statementTimeoutMs: 0, connectTimeoutMs: 5_000 },
    silentLogger,
  );
  const repo = new SettingsRepository(createTransactor(database.db, silentLogger));
  const set = (key: keyof typeof settingDefinitions, value: unknown) =>
    repo.upsert(key, value, settingDefinitions[key].description);
  await set('images.workflow', {
    ...settingDefinitions['images.workflow'].default,
    steps: STEPS,
    width: 512,
    height: 512,
  });
  await set('images.per_user_queued', 100);
  await database.close();
}

/**
 * One picture, closed on its photo: post `/image`, wait for the first visible progress (the
 * worker's first edit of the placeholder, or the photo when the run was too quick for one) and for
 * the photo itself at the sink.
 */
function pictureIteration(poster: WebhookPoster, env: BenchEnvironment) {
  let n = 0;
  return async (u: number) => {
    const user = benchUser(u);
    const firstEdit = env.sink.next(user.id, ['editMessageText', 'sendPhoto'], PHOTO_WITHIN_MS);
    const photo = env.sink.next(user.id, ['sendPhoto'], PHOTO_WITHIN_MS);
    firstEdit.catch(() => undefined);
    photo.catch(() => undefined);
    n += 1;
    const sent = performance.now();
    await poster.post(updates.message(user, `/image bench picture number ${n}`));
    const [edit, done] = await Promise.all([firstEdit, photo]);
    return { firstProgress: edit.at - sent, photo: done.at - sent };
  };
}

interface Phase {
  /** Sampler step time of the fake backends. */
  stepMs: number;
  backends: number;
  label: string;
}

/**
 * Pictures through the whole platform — webhook → `vitte api` (checks, quota, job row, placeholder)
 * → BullMQ → `vitte worker` (claim, ComfyUI over HTTP and /ws, PNG from /view, object store,
 * sendPhoto upload, final transition) — against fake ComfyUI backends with one GPU slot each, as on
 * real cards. With sampler steps that take no time the numbers are the platform's own cost; with
 * 50 ms steps (a 200 ms picture) the GPUs are the limit, and a second backend should double the rate.
 */
export default async function imagesBench(report: Report): Promise<void> {
  const env = await startBenchEnvironment('images');
  const fakes = new Map<number, FakeComfy[]>();
  try {
    await configure(env);
    const phases: Phase[] = [
      { stepMs: 0, backends: 1, label: 'zero-time steps, 1 backend' },
      { stepMs: 0, backends: 2, label: 'zero-time steps, 2 backends' },
      { stepMs: 50, backends: 1, label: '200 ms pictures, 1 backend' },
      { stepMs: 50, backends: 2, label: '200 ms pictures, 2 backends' },
    ];
    for (const phase of phases) {
      if (!fakes.has(phase.stepMs)) {
        fakes.set(
          phase.stepMs,
          await Promise.all([0, 1].map(() => startFakeComfy({ stepMs: phase.stepMs, maxImageSide: 64 }))),
        );
      }
      await runPhase(env, fakes.get(phase.stepMs)!, phase, report);
    }
  } finally {
    await Promise.all([...fakes.values()].flat().map((f) => f.close()));
    await env.close();
  }
}

async function runPhase(
  env: BenchEnvironment,
  fakes: FakeComfy[],
  phase: Phase,
  report: Report,
): Promise<void> {
  const key = `${phase.stepMs}ms_${phase.backends}b`;
  const urls = fakes
    .slice(0, phase.backends)
    .map((f, i) => `${f.url};name=gpu${i + 1};slots=1`)
    .join(',');
  const roleEnv = { COMFYUI_URLS: urls, WORKER_QUEUE_CONCURRENCY: 'images=16' };
  const roles: VitteRole[] = [];
  try {
    roles.push(await startVitteRole(env, 'api', { env: roleEnv }));
    roles.push(await startVitteRole(env, 'worker', { env: roleEnv }));
    const poster = webhookPoster({ url: `${roles[0]!.url}${WEBHOOK_PATH}`, secret: WEBHOOK_SECRET });
    await registerUsers(poster, updates, USERS);

    // Latency: one picture at a time, nothing else in flight; each in its own chat, so no sample
    // waits out the previous one's edit interval (at most one edit a second per chat).
    const one = pictureIteration(poster, env);
    const progress: number[] = [];
    const total: number[] = [];
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      const r = await one(i);
      progress.push(r.firstProgress);
      total.push(r.photo);
    }
    const p50 = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
    const gpuMs = STEPS * phase.stepMs;
    report(
      `overhead_per_image_p50_${key}`,
      p50(total) - gpuMs,
      'ms',
      `/image posted → photo at Telegram, one at a time, minus the ${gpuMs} ms of sampler steps (${phase.label})`,
    );
    if (phase.stepMs > 0)
      report(
        `time_to_first_progress_p50_${key}`,
        p50(progress),
        'ms',
        `/image posted → first placeholder edit (${phase.label})`,
      );

    // Throughput: every user keeps one picture in flight.
    const loop = await runClosedLoop({
      users: USERS,
      warmupMs: WARMUP_MS,
      durationMs: MEASURE_MS,
      iteration: pictureIteration(poster, env),
    });
    report(
      `images_per_second_${key}`,
      loop.perSecond,
      'img/s',
      `${USERS} users, one picture each in flight (${phase.label}); ${loop.errors} errors${loop.firstError ? ` (${loop.firstError})` : ''}`,
    );
    report(
      `photo_latency_p90_${key}`,
      loop.latencies.photo?.p90 ?? Number.NaN,
      'ms',
      `under that load (${phase.label})`,
    );
    poster.close();
  } finally {
    await Promise.all(roles.map((r) => r.stop()));
  }
}
