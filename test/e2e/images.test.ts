import { describe, expect, it } from 'vitest';
import type { FakeComfy } from '../../src/dev/fake-comfyui/index.js';
import {
  finished,
  type ImageSystem,
  imagesUsed,
  jobsOf,
  submits,
  useImageSystem,
} from '../helpers/images-system.js';
import { has } from '../helpers/services.js';
import type { TestSystem } from '../helpers/system.js';

let nextId = 61_000;
const newUser = () => {
  nextId += 1;
  return { id: nextId, first_name: `Pic${nextId}`, language_code: 'en' };
};

describe.skipIf(!has('redis') || !has('postgres'))('pictures end to end (two fake ComfyUI backends)', () => {
  let s: TestSystem;
  let a: FakeComfy;
  let b: FakeComfy;
  useImageSystem(
    {
      label: 'images_e2e',
      stepMs: 120,
      settings: {
        'images.workflow': {
          name: 'text-to-image',
          width: 512,
          height: 512,
          steps: 20,
          negative_prompt: 'blurry',
          checkpoint: '',
        },
      },
    },
    (sys: ImageSystem) => ({ s, a, b } = sys),
  );

  it('draws, shows progress at most once a second, uploads the PNG and keeps it', async () => {
    const user = newUser();
    await s.tg.injectMessage({ user, text: '/image a red fox in the snow' });
    const job = await finished(s, user.id);
    expect(job).toMatchObject({ status: 'succeeded', prompt: 'a red fox in the snow', backend: 'A', run: 1 });
    expect(job.telegram_file_id).toBeTruthy();
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
  });
});
