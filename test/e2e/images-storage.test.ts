import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeComfy } from '../../src/dev/fake-comfyui/index.js';
import { finished, useImageSystem } from '../helpers/images-system.js';
import { type RunningS3rver, startS3rver } from '../helpers/s3rver.js';
import { has } from '../helpers/services.js';
import type { TestSystem } from '../helpers/system.js';

let nextId = 62_000;
const newUser = () => {
  nextId += 1;
  return { id: nextId, first_name: `Store${nextId}`, username: `store${nextId}`, language_code: 'en' };
};

/** Signs in to the admin panel over HTTP; returns a fetch that carries the session cookie. */
async function adminSession(s: TestSystem) {
  await s.app.admin.accounts.create({ username: 'owner', password: 'owner-password-1', role: 'owner' });
  const res = await fetch(`${s.url}/admin/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'owner', password: 'owner-password-1' }),
  });
  expect(res.status).toBe(200);
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
  const csrf = ((await res.json()) as { csrfToken: string }).csrfToken;
  return {
    get: (url: string) => fetch(`${s.url}${url}`, { headers: { cookie, accept: 'text/html' } }),
    /** A form post, as the browser sends it. */
    post: (url: string, form: Record<string, string>) =>
      fetch(`${s.url}${url}`, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          cookie,
          accept: 'text/html',
          'content-type': 'application/x-www-form-urlencoded',
          origin: s.url,
        },
        body: new URLSearchParams({ ...form, _csrf: csrf }).toString(),
      }),
  };
}

for (const kind of ['local', 's3'] as const) {
  describe.skipIf(!has('redis') || !has('postgres'))(
    `pictures stored ${kind === 's3' ? 'in S3 (s3rver, over HTTP)' : 'on local disk'}, shown in the admin panel`,
    () => {
      let s: TestSystem;
      let a: FakeComfy;
      let s3rver: RunningS3rver | undefined;
      let endpoint = '';

      beforeAll(async () => {
        if (kind !== 's3') return;
        s3rver = await startS3rver();
        endpoint = s3rver.endpoint;
      });
      afterAll(async () => {
        await s3rver?.close();
      });
      useImageSystem(
        {
          label: `images_${kind}`,
          env: (): Record<string, string> =>
            kind === 's3'
              ? {
                  S3_BUCKET: 'vitte-pictures',
                  S3_ENDPOINT: endpoint,
                  S3_ACCESS_KEY_ID: 'S3RVER',
                  S3_SECRET_ACCESS_KEY: 'S3RVER',
                  OBJECT_LINK_SECRET: 'a-link-secret-of-at-least-32-characters',
                }
              : {},
        },
        (sys) => ({ s, a } = sys),
      );

      it('keeps the PNG in the store; the gallery, the user page and the dashboard show it', async () => {
        expect(s.app.objects.kind).toBe(kind);
        const user = newUser();
        await s.tg.injectMessage({ user, text: '/image a stored sunflower' });
        const job = await finished(s, user.id);
        expect(job.status).toBe('succeeded');
        const photo = (await s.tg.calls({ method: 'sendPhoto', chatId: user.id }))[0]!;
        const uploaded = Buffer.from(
          await (
            await fetch(
              `${s.emulator.url}/_emulator/files/${(photo.result as { photo: { file_id: string }[] }).photo.at(-1)!.file_id}`,
            )
          ).arrayBuffer(),
        );

        // What the store holds, read behind the app's back.
        let stored: Buffer;
        if (kind === 's3') {
          const raw = new S3Client({
            endpoint,
            region: 'us-east-1',
            forcePathStyle: true,
            credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
          });
          const object = await raw.send(
            new GetObjectCommand({ Bucket: 'vitte-pictures', Key: job.object_key! }),
          );
          stored = Buffer.from(await object.Body!.transformToByteArray());
          raw.destroy();
        } else {
          stored = await readFile(path.join(s.testDb.dataDir, 'objects', 'data', job.object_key!));
        }
        expect(job.object_key).toMatch(new RegExp(`^images/\\d{4}/\\d{2}/${job.id}-[0-9a-f-]{36}\\.png$`));
        expect(stored.subarray(1, 4).toString()).toBe('PNG');
        expect(stored.equals(uploaded)).toBe(true);

        // A failed one shows its error.
        a.failNext({ kind: 'reject' });
        await s.tg.injectMessage({ user, text: '/image a refused picture' });
        await s.tg.waitFor(
          async () => ((await finished(s, user.id)).id !== job.id ? true : undefined),
          'the second picture',
        );

        const { get, post } = await adminSession(s);
        const page = await (await get('/admin/images')).text();
        expect(page).toContain(`data-image-id="${job.id}"`);
        expect(page).toContain('a stored sunflower');
        expect(page).toContain('refused the workflow');
        const src = new RegExp(`data-image-id="${job.id}"[\\s\\S]*?<img src="([^"]+)"`)
          .exec(page)![1]!
          .replaceAll('&amp;', '&');
        expect(src).toMatch(/^\/admin\/objects\/images\/.+\?exp=\d+&sig=/);

        // The link is the credential: no cookie needed, and a forged one is refused.
        const image = await fetch(`${s.url}${src}`);
        expect(image.status).toBe(200);
        expect(image.headers.get('content-type')).toBe('image/png');
        expect(Buffer.from(await image.arrayBuffer()).equals(stored)).toBe(true);
        expect((await fetch(`${s.url}${src.replace(/sig=.{4}/, 'sig=AAAA')}`)).status).toBe(403);

        const failedOnly = await (await get('/admin/images?status=failed')).text();
        expect(failedOnly).not.toContain(`data-image-id="${job.id}"`);
        expect(failedOnly).toContain('a refused picture');

        const userPage = await (await get(`/admin/users/${user.id}`)).text();
        expect(userPage).toMatch(new RegExp(`id="user-images"[\\s\\S]*data-image-id="${job.id}"`));

        // The deny-list is edited one entry a line; a broken expression is named by its line.
        const refused = await post('/admin/settings/images.deny_list', { v: 'dragon\n/b[o0mb/\n' });
        expect(refused.status).toBe(422);
        expect(await refused.text()).toContain('line 2: not a valid /regular expression/');
        const saved = await post('/admin/settings/images.deny_list', { v: ' dragon \n\n/b[o0]mb/\n' });
        expect(saved.status).toBe(303);
        expect(await s.app.settings.get('images.deny_list')).toEqual(['dragon', '/b[o0]mb/']);
        await s.app.settings.reset('images.deny_list');

        const dashboard = await (await get('/admin')).text();
        expect(dashboard).toMatch(/data-testid="comfyui-health"[\s\S]*data-backend="A"[\s\S]*>up</);
        expect(dashboard).toMatch(/data-backend="B"[\s\S]*>up</);
      });
    },
  );
}
