import { describe, expect, it } from 'vitest';
import type { FakeComfy } from '../../src/dev/fake-comfyui/index.js';
import {
  type FakeLlm,
  finished,
  type ImageSystem,
  imagesUsed,
  jobsOf,
  placeholderSays,
  submits,
  useImageSystem,
} from '../helpers/images-system.js';
import { orderInvoice, pay } from '../helpers/payments.js';
import { has } from '../helpers/services.js';
import type { TestSystem } from '../helpers/system.js';

let nextId = 61_000;
const newUser = () => {
  nextId += 1;
  return { id: nextId, first_name: `Pic${nextId}`, language_code: 'en' };
};

const WORKFLOW = {
  name: 'text-to-image',
  width: 512,
  height: 512,
  steps: 20,
  negative_prompt: 'blurry',
  checkpoint: '',
};

async function metric(s: TestSystem, name: string, labels: Record<string, string>): Promise<number> {
  const data = await s.app.metrics.registry.getSingleMetric(name)?.get();
  return data?.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0;
}

describe.skipIf(!has('redis') || !has('postgres'))('pictures end to end (two fake ComfyUI backends)', () => {
  let s: TestSystem;
  let a: FakeComfy;
  let b: FakeComfy;
  let llm: FakeLlm;
  useImageSystem(
    { label: 'images_e2e', stepMs: 120, settings: { 'images.workflow': WORKFLOW } },
    (sys: ImageSystem) => ({ s, a, b, llm } = sys),
  );

  /** A registered user whose plan gives no pictures. */
  async function userWithoutPlanPictures() {
    const user = newUser();
    await s.tg.injectMessage({ user, text: '/start' });
    await s.tg.waitForBotMessage(user.id);
    await s.app.db
      .updateTable('subscriptions')
      .set({ images_limit: 0 })
      .where('user_id', '=', user.id)
      .execute();
    return user;
  }

  it('draws, shows progress at most once a second, uploads the PNG and keeps it', async () => {
    const user = newUser();
    await s.tg.injectMessage({ user, text: '/image a red fox in the snow' });
    const job = await finished(s, user.id);
    expect(job).toMatchObject({ status: 'succeeded', prompt: 'a red fox in the snow', backend: 'A', run: 1 });
    expect(job.telegram_file_id).toBeTruthy();
    expect(job.quota_returned_at).toBeNull();
    expect(await imagesUsed(s, user.id)).toBe(1);
    expect(a.stats().submits).toEqual({ [`${job.run_key}-1`]: 1 });

    const photos = await s.tg.calls({ method: 'sendPhoto', chatId: user.id });
    expect(photos).toHaveLength(1);
    // A multipart upload: every field arrives as text.
    expect(photos[0]!.params).toMatchObject({ caption: 'a red fox in the snow', has_spoiler: 'false' });
    expect(photos[0]!.params.photo).toMatchObject({ upload: { filename: 'picture.png' } });
    expect(JSON.stringify(photos[0]!.params.reply_markup)).toContain(`img:again:${job.id}`);

    const edits = (await s.tg.calls({ method: 'editMessageText', chatId: user.id })).filter((c) => c.ok);
    expect(edits.length).toBeGreaterThanOrEqual(2);
    expect(edits.map((e) => String(e.params.text)).some((t) => /Drawing… \d+%/.test(t))).toBe(true);
    for (let i = 1; i < edits.length; i++)
      expect(edits[i]!.at - edits[i - 1]!.at).toBeGreaterThanOrEqual(1000);
    const actions = await s.tg.chatActions(user.id);
    expect(actions.some((x) => x.action === 'upload_photo')).toBe(true);
    // The placeholder is gone; the photo stays.
    const messages = await s.tg.botMessages(user.id);
    expect(messages.map((m) => (m.photo ? 'photo' : m.text))).toEqual(['photo']);

    const stored = await s.app.objects.get(job.object_key!);
    expect(stored.bytes.subarray(1, 4).toString()).toBe('PNG');

    // The same job run again (a duplicate delivery of the queue job) finds it finished: nothing is sent.
    const again = await s.app.queue.enqueueAndWait(
      'images.generate',
      { jobId: job.id },
      { timeoutMs: 10_000 },
    );
    expect(again).toMatchObject({ kind: 'skipped', detail: 'already succeeded' });
    expect(await s.tg.calls({ method: 'sendPhoto', chatId: user.id })).toHaveLength(1);
    expect(submits(a, b)).toBe(1);
  });

  it('never edits before a flood-control retry_after has passed, nor sends the photo', async () => {
    const user = newUser();
    await s.tg.injectFault({ method: 'editMessageText', chatId: user.id, errorCode: 429, retryAfter: 3 });
    await s.tg.injectMessage({ user, text: '/image a lighthouse' });
    expect((await finished(s, user.id)).status).toBe('succeeded');
    const calls = await s.tg.calls({ chatId: user.id });
    const limited = calls.find((c) => c.method === 'editMessageText' && c.error_code === 429)!;
    expect(limited).toBeDefined();
    const later = calls.filter(
      (c) => c.seq > limited.seq && ['editMessageText', 'sendPhoto'].includes(c.method),
    );
    expect(later.map((c) => c.method)).toContain('sendPhoto');
    for (const c of later) expect(c.at - limited.at).toBeGreaterThanOrEqual(3000);
  });

  it('a prompt ComfyUI refuses (400) is not retried and gives the unit back', async () => {
    const user = newUser();
    a.failNext({ kind: 'reject' });
    b.failNext({ kind: 'reject' });
    await s.tg.injectMessage({ user, text: '/image a bridge' });
    const job = await finished(s, user.id);
    expect(job.status).toBe('failed');
    expect(job.error).toContain('refused the workflow');
    expect(job.quota_returned_at).not.toBeNull();
    expect(submits(a, b)).toBe(1);
    expect(await imagesUsed(s, user.id)).toBe(0);
    expect(await s.tg.calls({ method: 'sendPhoto', chatId: user.id })).toHaveLength(0);
    // The placeholder is edited after the job's end commits: wait for it.
    await placeholderSays(s, user.id, /picture failed\. It was not counted/);
  });

  it('out of memory on one backend: the second run on the other delivers one photo for one unit', async () => {
    const user = newUser();
    a.failNext({ kind: 'oom' });
    await s.tg.injectMessage({ user, text: '/image a castle on a hill' });
    const job = await finished(s, user.id);
    expect(job).toMatchObject({ status: 'succeeded', run: 2, backend: 'B', excluded_backends: ['A'] });
    expect(a.stats().submits).toEqual({ [`${job.run_key}-1`]: 1 });
    expect(b.stats().submits).toEqual({ [`${job.run_key}-2`]: 1 });
    expect(a.stats().failed).toBe(1);
    expect(await s.tg.calls({ method: 'sendPhoto', chatId: user.id })).toHaveLength(1);
    expect(await imagesUsed(s, user.id)).toBe(1);
  });

  it('a run that hangs past the deadline is interrupted, refunded, and no late photo comes', async () => {
    const user = newUser();
    await s.app.settings.set('images.timeout_seconds', 10);
    try {
      a.failNext({ kind: 'hang' });
      await s.tg.injectMessage({ user, text: '/image a slow snail' });
      const job = await finished(s, user.id, 30_000);
      expect(job.status).toBe('timed_out');
      expect(a.stats()).toMatchObject({ interrupted: 1 });
      expect(a.stats().interruptRequests).toBeGreaterThanOrEqual(1);
      expect(a.queue()).toEqual({ running: [], pending: [] });
      expect(await imagesUsed(s, user.id)).toBe(0);
      // The placeholder is edited after the job ended (a Telegram call after the commit).
      await placeholderSays(s, user.id, /took too long/);
      // Whatever the backend does now, nothing reaches the user.
      await new Promise((r) => setTimeout(r, 1500));
      expect(await s.tg.calls({ method: 'sendPhoto', chatId: user.id })).toHaveLength(0);
    } finally {
      await s.app.settings.reset('images.timeout_seconds');
    }
  });

  it('a socket dropped mid-run: the picture is finished from /history', async () => {
    const user = newUser();
    const before = await metric(s, 'vitte_comfyui_history_fallback_polls_total', { backend: 'A' });
    a.failNext({ kind: 'drop-socket' });
    await s.tg.injectMessage({ user, text: '/image a quiet harbour' });
    const job = await finished(s, user.id);
    expect(job).toMatchObject({ status: 'succeeded', backend: 'A', run: 1 });
    expect(submits(a, b)).toBe(1);
    expect(await metric(s, 'vitte_comfyui_history_fallback_polls_total', { backend: 'A' })).toBeGreaterThan(
      before,
    );
    expect(await s.tg.calls({ method: 'sendPhoto', chatId: user.id })).toHaveLength(1);
  });

  it('one picture at a time per user: the others wait their turn, in order, and are told their place', async () => {
    const user = newUser();
    for (const what of ['one', 'two', 'three'])
      await s.tg.injectMessage({ user, text: `/image picture ${what}` });
    await s.tg.waitFor(
      async () => {
        const jobs = await jobsOf(s, user.id);
        return jobs.length === 3 && jobs.every((j) => j.status === 'succeeded') ? true : undefined;
      },
      'three pictures',
      { timeoutMs: 30_000 },
    );
    const placeholders = (await s.tg.calls({ method: 'sendMessage', chatId: user.id })).map(
      (c) => c.params.text,
    );
    expect(placeholders).toEqual([
      '🎨 Queued…',
      '🎨 One picture at a time: yours is #1 in the queue.',
      '🎨 One picture at a time: yours is #2 in the queue.',
    ]);
    const jobs = await jobsOf(s, user.id);
    expect(jobs.map((j) => j.prompt)).toEqual(['picture one', 'picture two', 'picture three']);
    for (let i = 1; i < jobs.length; i++)
      expect(jobs[i]!.started_at!.getTime()).toBeGreaterThanOrEqual(jobs[i - 1]!.finished_at!.getTime());
    expect(await imagesUsed(s, user.id)).toBe(3);
  });

  it('deny-listed and NSFW prompts are refused before any GPU call or quota', async () => {
    const user = newUser();
    await s.app.settings.set('images.deny_list', ['dragon', '/castle\\s+ruins?/']);
    try {
      for (const text of [
        '/image a red DRAGON',
        '/image castle ruins at dawn',
        '/image n.a.k.e.d woman',
        '/image',
        '/image ' + 'x'.repeat(1001),
      ])
        await s.tg.injectMessage({ user, text });
      const replies = await s.tg.waitFor(async () => {
        const m = await s.tg.botMessages(user.id);
        return m.length === 5 ? m.map((x) => x.text) : undefined;
      }, 'five answers');
      expect(replies).toEqual([
        "I can't draw that. Try describing something else.",
        "I can't draw that. Try describing something else.",
        "I don't draw explicit pictures here. Try describing something else.",
        'Describe the picture after the command, e.g. /image a lighthouse on a cliff at sunset.',
        'That description is too long: at most 1,000 characters.',
      ]);
      expect(await jobsOf(s, user.id)).toHaveLength(0);
      expect(submits(a, b)).toBe(0);
      expect(await imagesUsed(s, user.id)).toBe(0);
    } finally {
      await s.app.settings.reset('images.deny_list');
    }
  });

  it('with no images left, the request is refused with when they come back', async () => {
    const user = await userWithoutPlanPictures();
    await s.tg.injectMessage({ user, text: '/image a cat' });
    const reply = await s.tg.waitForBotMessage(user.id, (m) => (m.text ?? '').includes('no pictures'));
    expect(reply.text).toBe('Your plan has no pictures. /status shows the details.');
    expect(await jobsOf(s, user.id)).toHaveLength(0);
  });

  it("with the plan's pictures used up, a bought pack pays for them; a failed one goes back to the pack", async () => {
    const user = await userWithoutPlanPictures();
    const checkout = await pay(s, user, await orderInvoice(s, user, 'pack_20'));
    expect(checkout.ok).toBe(true);
    const left = () => s.app.imageCredits.purchasedLeft(user.id);
    await s.tg.waitFor(async () => ((await left()) === 20 ? true : undefined), 'the pack');

    await s.tg.injectMessage({ user, text: '/image a bought picture' });
    expect(await finished(s, user.id)).toMatchObject({ status: 'succeeded', quota_source: 'pack' });
    expect(await left()).toBe(19);

    a.failNext({ kind: 'reject' });
    b.failNext({ kind: 'reject' });
    await s.tg.injectMessage({ user, text: '/image a refused bought picture' });
    await s.tg.waitFor(
      async () => ((await jobsOf(s, user.id)).length === 2 ? true : undefined),
      'the second job',
    );
    expect(await finished(s, user.id)).toMatchObject({ status: 'failed', quota_source: 'pack' });
    expect(await left()).toBe(19);
    expect(await imagesUsed(s, user.id)).toBe(0);
  });

  it('✖ cancels a picture being drawn: the run is stopped, the unit comes back, no photo', async () => {
    const user = newUser();
    a.failNext({ kind: 'slow', stepMs: 400 });
    b.failNext({ kind: 'slow', stepMs: 400 });
    await s.tg.injectMessage({ user, text: '/image a very slow painting' });
    const placeholder = await s.tg.waitForBotMessage(user.id, (m) => /Drawing/.test(m.text ?? ''), {
      timeoutMs: 10_000,
    });
    const [job] = await jobsOf(s, user.id);
    await s.tg.injectCallbackQuery({ user, message_id: placeholder.message_id, data: `img:x:${job!.id}` });
    expect((await finished(s, user.id)).status).toBe('cancelled');
    await s.tg.waitFor(
      async () => (a.stats().interrupted + b.stats().interrupted === 1 ? true : undefined),
      'the run interrupted',
    );
    expect(await imagesUsed(s, user.id)).toBe(0);
    const text = (await s.tg.botMessages(user.id))[0]!.text;
    expect(text).toBe('Cancelled. The picture was not counted.');
    await new Promise((r) => setTimeout(r, 1000));
    expect(await s.tg.calls({ method: 'sendPhoto', chatId: user.id })).toHaveLength(0);
    // Pressed again (a second tap, or Telegram re-sending it): nothing more is given back.
    await s.tg.injectCallbackQuery({ user, message_id: placeholder.message_id, data: `img:x:${job!.id}` });
    await s.tg.waitFor(
      async () =>
        (await s.tg.callbackAnswers()).filter((c) => c.text?.includes('Too late')).length ? true : undefined,
      'the second answer',
    );
    expect(await imagesUsed(s, user.id)).toBe(0);
  });

  it('a blocked user: the picture ends quietly, stays stored, and the unit stays spent', async () => {
    const user = newUser();
    await s.tg.injectMessage({ user, text: '/image a mountain lake' });
    await s.tg.waitForBotMessage(user.id);
    await s.tg.blockUser(user.id);
    try {
      const job = await finished(s, user.id);
      expect(job.status).toBe('undelivered');
      expect((await s.app.objects.head(job.object_key!))?.size).toBeGreaterThan(0);
      expect(await imagesUsed(s, user.id)).toBe(1);
      expect((await s.app.users.find(user.id))?.bot_blocked_at).not.toBeNull();
    } finally {
      await s.tg.unblockUser(user.id);
    }
  });

  it('a re-delivered update makes no second picture', async () => {
    const user = newUser();
    const update = await s.tg.injectMessage({ user, text: '/image a windmill' });
    await finished(s, user.id);
    await s.tg.redeliverUpdate(update.update_id);
    await s.tg.waitForDelivery();
    expect(await jobsOf(s, user.id)).toHaveLength(1);
    expect(await imagesUsed(s, user.id)).toBe(1);
  });

  it('🎨 under an AI answer: the AI writes the prompt from the dialog; ↻ and 🔁 make more of it', async () => {
    const user = newUser();
    llm.enqueue('A log cabin by a frozen lake sounds lovely for the winter.');
    await s.tg.injectMessage({ user, text: 'Where should I spend the winter?' });
    const answer = await s.tg.waitForBotMessage(user.id, (m) => (m.text ?? '').startsWith('A log cabin'));
    const button = answer.reply_markup?.inline_keyboard[0]?.[0];
    expect(button).toMatchObject({ text: '🎨 Picture' });

    llm.enqueue('"A cozy log cabin by a frozen lake, oil painting"');
    await s.tg.injectCallbackQuery({
      user,
      message_id: answer.message_id,
      data: (button as { callback_data: string }).callback_data,
    });
    const first = await finished(s, user.id);
    expect(first).toMatchObject({
      status: 'succeeded',
      source: 'dialog',
      prompt: 'A cozy log cabin by a frozen lake, oil painting',
    });
    const writer = llm.requests().at(-1)!.body.messages;
    expect(writer[0]).toMatchObject({
      role: 'system',
      content: expect.stringContaining('prompts for an image generation model'),
    });
    expect(String(writer[1]!.content)).toContain('User: Where should I spend the winter?');
    expect(String(writer[1]!.content)).toContain('Assistant: A log cabin by a frozen lake');

    const photo = (await s.tg.botMessages(user.id)).find((m) => m.photo)!;
    await s.tg.injectCallbackQuery({ user, message_id: photo.message_id, data: `img:again:${first.id}` });
    await s.tg.waitFor(
      async () => ((await jobsOf(s, user.id)).length === 2 ? true : undefined),
      'the second job',
    );
    const again = await finished(s, user.id);
    expect(again).toMatchObject({
      status: 'succeeded',
      source: 'again',
      prompt: first.prompt,
      parent_id: first.id,
    });
    expect(again.params.seed).not.toBe(first.params.seed);

    llm.enqueue('A cozy log cabin by a frozen lake at night, oil painting');
    await s.tg.injectCallbackQuery({ user, message_id: photo.message_id, data: `img:var:${first.id}` });
    await s.tg.waitFor(
      async () => ((await jobsOf(s, user.id)).length === 3 ? true : undefined),
      'the third job',
    );
    const variation = await finished(s, user.id);
    expect(variation).toMatchObject({
      status: 'succeeded',
      source: 'variation',
      prompt: 'A cozy log cabin by a frozen lake at night, oil painting',
    });
    expect(variation.params.seed).toBe(first.params.seed);
    expect(await s.tg.calls({ method: 'sendPhoto', chatId: user.id })).toHaveLength(3);
    expect(await imagesUsed(s, user.id)).toBe(3);
  });
});

describe.skipIf(!has('redis') || !has('postgres'))('pictures with one of two backends down', () => {
  let s: TestSystem;
  let a: FakeComfy;
  let b: FakeComfy;
  useImageSystem(
    { label: 'images_down', down: ['A'], settings: { 'images.workflow': WORKFLOW } },
    (sys) => ({ s, a, b } = sys),
  );

  it('every picture goes to the healthy backend', async () => {
    const users = [newUser(), newUser(), newUser()];
    for (const user of users) await s.tg.injectMessage({ user, text: '/image a green field' });
    for (const user of users) expect((await finished(s, user.id)).backend).toBe('B');
    expect(submits(a)).toBe(0);
    expect(submits(b)).toBe(3);
    expect(await metric(s, 'vitte_comfyui_backend_up', { backend: 'A' })).toBe(0);
    expect(await metric(s, 'vitte_comfyui_backend_up', { backend: 'B' })).toBe(1);
  });

  it('out of memory on the only healthy backend: the second run goes to the same one', async () => {
    const user = newUser();
    b.failNext({ kind: 'oom' });
    await s.tg.injectMessage({ user, text: '/image a castle on a hill' });
    const job = await finished(s, user.id);
    expect(job).toMatchObject({ status: 'succeeded', run: 2, backend: 'B', excluded_backends: ['B'] });
    expect(b.stats().submits).toEqual({ [`${job.run_key}-1`]: 1, [`${job.run_key}-2`]: 1 });
    expect(await s.tg.calls({ method: 'sendPhoto', chatId: user.id })).toHaveLength(1);
    expect(await imagesUsed(s, user.id)).toBe(1);
  });

  it('out of memory twice on the only healthy backend: failed at once, the unit comes back', async () => {
    const user = newUser();
    b.failNext({ kind: 'oom' }, 2);
    await s.tg.injectMessage({ user, text: '/image a castle on a hill' });
    const job = await finished(s, user.id);
    expect(job).toMatchObject({ status: 'failed', run: 2 });
    expect(job.quota_returned_at).not.toBeNull();
    expect(submits(a, b)).toBe(2);
    expect(await imagesUsed(s, user.id)).toBe(0);
    await placeholderSays(s, user.id, /picture failed\. It was not counted/);
  });
});
