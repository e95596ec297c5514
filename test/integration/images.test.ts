import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageJobs } from '../../src/domain/images/image-jobs.js';
import { ImageJobsRepository } from '../../src/domain/images/image-jobs.repository.js';
import { CreditsImageQuota } from '../../src/domain/images/image-quota.js';
import { createImagesMetrics } from '../../src/domain/images/images.metrics.js';
import type { User } from '../../src/platform/db/schema.js';
import { ValidationError } from '../../src/platform/errors.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { silentLogger } from '../helpers/db.js';

/**
 * The images domain on a real database, without ComfyUI: the quota unit (taken with the job, given
 * back at most once, into the period it came from), claims and leases, the per-user order, the
 * sweeper. Everything that can run twice is run twice.
 */
let t: TestApp;
let repo: ImageJobsRepository;
let jobs: ImageJobs;
let nextUser = 71_000;

beforeAll(async () => {
  // An (unreachable) backend makes pictures enabled; nothing here talks to it.
  t = await createTestApp({ COMFYUI_URLS: 'http://127.0.0.1:9;name=gpu' }, { label: 'images' });
  repo = new ImageJobsRepository(t.app.tx);
  jobs = new ImageJobs({
    tx: t.app.tx,
    repo,
    quota: new CreditsImageQuota(t.app.imageCredits, t.app.subscriptions),
    metrics: createImagesMetrics(t.app.metrics),
    logger: silentLogger,
    onFinished: async () => {},
  });
});
afterAll(() => t?.close());

async function newUser(imagesLimit = 3): Promise<User> {
  nextUser += 1;
  const { user } = await t.app.users.register({ id: nextUser, first_name: `U${nextUser}` });
  await t.app.db
    .updateTable('subscriptions')
    .set({ images_limit: imagesLimit })
    .where('user_id', '=', user.id)
    .execute();
  return user;
}

const used = async (userId: number) => (await t.app.subscriptions.get(userId)).images_used;

async function queued(user: User, prompt = 'a cat') {
  const r = await t.app.images.request(user, user.id, prompt);
  if (r.kind !== 'queued') throw new Error(`not queued: ${r.kind}`);
  return r;
}

describe('the quota unit', () => {
  it('is taken with the job and given back once, however often the job is ended', async () => {
    const user = await newUser();
    const { job } = await queued(user);
    expect(job).toMatchObject({ quota_source: 'plan', status: 'queued' });
    expect(await used(user.id)).toBe(1);

    expect(await jobs.move(job.id, 'fail', { error: 'first' })).toMatchObject({ status: 'failed' });
    expect(await jobs.move(job.id, 'fail', { error: 'second' })).toBeUndefined();
    expect(await jobs.move(job.id, 'cancel')).toBeUndefined();
    expect(await used(user.id)).toBe(0);
    expect((await t.app.images.get(job.id)).error).toBe('first');
  });

  it('of two racing endings (the user cancels as the worker fails it), exactly one gives it back', async () => {
    const user = await newUser();
    const { job } = await queued(user);
    await queued(user, 'a dog');
    expect(await used(user.id)).toBe(2);
    const results = await Promise.all([
      jobs.move(job.id, 'cancel'),
      jobs.move(job.id, 'fail'),
      t.app.images.cancel(user.id, job.id),
    ]);
    expect(results.filter((r) => r !== undefined && r !== 'too_late')).toHaveLength(1);
    expect(await used(user.id)).toBe(1);
  });

  it('goes back into the period it was taken from: after a reset it does not lower the new count', async () => {
    const user = await newUser();
    const { job } = await queued(user);
    // The period ends; the next request starts a new one.
    await t.app.db
      .updateTable('subscriptions')
      .set({ quota_period_start: sql`now() - interval '25 hours'` })
      .where('user_id', '=', user.id)
      .execute();
    await queued(user, 'in the new period');
    expect(await used(user.id)).toBe(1);
    await jobs.move(job.id, 'fail');
    expect(await used(user.id)).toBe(1);
  });

  it('runs out: no unit, no job, and the answer says when units come back', async () => {
    const user = await newUser(1);
    await queued(user);
    const second = await t.app.images.request(user, user.id, 'one more');
    expect(second.kind).toBe('quota_exceeded');
    expect(second.kind === 'quota_exceeded' && second.resetsAt).toBeInstanceOf(Date);
    expect(await used(user.id)).toBe(1);
    expect(await t.app.images.list({ userId: user.id, limit: 10 })).toHaveLength(1);
  });

  it('a user with too many pictures on the way gets no more (and spends nothing)', async () => {
    const user = await newUser(100);
    for (let i = 0; i < 5; i++) await queued(user, `picture ${i}`);
    expect(await t.app.images.request(user, user.id, 'the sixth')).toEqual({ kind: 'too_many', max: 5 });
    expect(await used(user.id)).toBe(5);
  });
});

describe('claims', () => {
  const opts = { leaseMs: 30_000, inFlight: 1, deadlineMs: 60_000 };

  it('one holder at a time; a lapsed lease can be taken over, and the old holder then writes nothing', async () => {
    const user = await newUser();
    const { job } = await queued(user);
    const first = randomUUID();
    const claimed = await repo.claim(job.id, first, opts);
    expect(claimed).toMatchObject({ status: 'running', attempts: 1 });
    expect(claimed!.deadline_at).toBeInstanceOf(Date);
    expect(await repo.claim(job.id, randomUUID(), opts)).toBeUndefined();
    expect((await repo.state(job.id))!.heldForMs).toBeGreaterThan(20_000);

    // The holder died: its lease runs out.
    await t.app.db
      .updateTable('image_jobs')
      .set({ lease_until: sql`now() - interval '1 second'` })
      .where('id', '=', job.id)
      .execute();
    const second = randomUUID();
    const again = await repo.claim(job.id, second, opts);
    expect(again).toMatchObject({ status: 'running', attempts: 2 });
    // The deadline was set by the first claim and stays.
    expect(again!.deadline_at!.getTime()).toBe(claimed!.deadline_at!.getTime());
    expect(await repo.update(job.id, first, { backend: 'stale' })).toBe(false);
    expect(await repo.renew(job.id, first, 30_000)).toBe(false);
    expect(await jobs.move(job.id, 'generated', {}, { token: first })).toBeUndefined();
    expect(await repo.update(job.id, second, { backend: 'gpu' })).toBe(true);
    expect(
      await jobs.move(job.id, 'generated', { object_key: 'images/x.png' }, { token: second }),
    ).toMatchObject({
      status: 'delivering',
    });
    // A cancelled job cannot be renewed: its holder learns it lost the job.
    await jobs.move(job.id, 'fail', {}, { token: second });
    expect(await repo.renew(job.id, second, 30_000)).toBe(false);
  });

  it("keeps a user's pictures in order, N at a time", async () => {
    const user = await newUser(10);
    const [one, two, three] = [await queued(user, '1'), await queued(user, '2'), await queued(user, '3')];
    expect([one.ahead, two.ahead, three.ahead]).toEqual([0, 1, 2]);
    expect(await repo.claim(two.job.id, randomUUID(), opts)).toBeUndefined();
    expect((await repo.state(two.job.id))!).toMatchObject({ status: 'queued', heldForMs: null, ahead: 1 });
    expect(await repo.claim(two.job.id, randomUUID(), { ...opts, inFlight: 2 })).toBeDefined();
    expect(await repo.claim(three.job.id, randomUUID(), { ...opts, inFlight: 2 })).toBeUndefined();
    await jobs.move(one.job.id, 'cancel');
    expect(await repo.claim(three.job.id, randomUUID(), { ...opts, inFlight: 2 })).toBeDefined();
  });
});

describe('the queue and the sweeper', () => {
  const waiting = async () => (await t.app.queue.counts()).images?.waiting ?? 0;

  it('start() queues a picture only when it is its turn; the sweeper queues one whose job was lost', async () => {
    const user = await newUser(10);
    const first = await queued(user, 'first');
    const second = await queued(user, 'second');
    const before = await waiting();
    await t.app.images.start(first.job.id, 101);
    await t.app.images.start(second.job.id, 102);
    expect(await waiting()).toBe(before + 1);
    // Started twice (a retried request): still one job in the queue.
    await t.app.images.start(first.job.id, 101);
    expect(await waiting()).toBe(before + 1);
    expect((await t.app.images.get(first.job.id)).placeholder_message_id).toBe(101);

    // A picture that has not moved for two minutes and that nobody holds is queued again.
    const lost = await queued(await newUser(), 'lost');
    await t.app.db
      .updateTable('image_jobs')
      .set({ updated_at: sql`now() - interval '2 minutes'` })
      .where('id', '=', lost.job.id)
      .execute();
    const swept = await t.app.images.sweep();
    expect(swept.requeued).toBeGreaterThanOrEqual(1);
    expect(await waiting()).toBe(before + 2);
  });

  it('a picture stuck for an hour ends as failed and gives its unit back, once', async () => {
    const user = await newUser();
    const { job } = await queued(user, 'forgotten');
    await t.app.db
      .updateTable('image_jobs')
      .set({ queued_at: sql`now() - interval '2 hours'`, updated_at: sql`now() - interval '2 hours'` })
      .where('id', '=', job.id)
      .execute();
    expect((await t.app.images.sweep()).expired).toBe(1);
    expect((await t.app.images.sweep()).expired).toBe(0);
    expect(await t.app.images.get(job.id)).toMatchObject({ status: 'failed' });
    expect(await used(user.id)).toBe(0);
  });
});

describe('settings', () => {
  it('refuse a deny-list /regular expression/ that does not compile', async () => {
    await expect(t.app.settings.set('images.deny_list', ['ok', '/([a-z/'])).rejects.toBeInstanceOf(
      ValidationError,
    );
    await t.app.settings.set('images.deny_list', ['ok', '/b[o0]mb/']);
    await t.app.settings.reset('images.deny_list');
  });
});
