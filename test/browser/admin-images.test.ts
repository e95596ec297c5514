import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, screenshot } from '../helpers/browser.js';
import { finished, type ImageSystem, useImageSystem } from '../helpers/images-system.js';
import { has } from '../helpers/services.js';

const OWNER = { username: 'painter-owner', password: 'painter-password-1' };

/**
 * The Images page in Chromium: the pictures really show (the signed links pass the panel's CSP and
 * the object route's own), a failed picture shows its error, and the dashboard its backends.
 */
describe.skipIf(!has('chromium') || !has('redis') || !has('postgres'))(
  'admin Images page in Chromium',
  () => {
    let sys: ImageSystem;
    let browser: Browser;
    let page: Page;
    useImageSystem({ label: 'images_browser' }, (s) => {
      sys = s;
    });

    beforeAll(async () => {
      browser = await launchBrowser();
      page = await browser.newPage();
      await sys.s.app.admin.accounts.create({ ...OWNER, role: 'owner' });
      const user = { id: 63_001, first_name: 'Frida', language_code: 'en' };
      await sys.s.tg.injectMessage({ user, text: '/image a sunflower field' });
      await finished(sys.s, user.id);
      sys.a.failNext({ kind: 'reject' });
      sys.b.failNext({ kind: 'reject' });
      await sys.s.tg.injectMessage({ user, text: '/image a refused one' });
      await sys.s.tg.waitFor(
        async () => ((await finished(sys.s, user.id)).prompt === 'a refused one' ? true : undefined),
        'the failed picture',
      );
    }, 60_000);
    afterAll(async () => {
      await browser?.close();
    });

    it('shows the pictures, the failed one with its error, and the backends on the dashboard', async () => {
      await page.goto(`${sys.s.url}/admin/images`);
      await page.fill('#f-username', OWNER.username);
      await page.fill('#f-password', OWNER.password);
      await page.click('button[type=submit]');
      await page.waitForURL(`${sys.s.url}/admin/images`);
      const blocked: string[] = [];
      page.on('console', (m) => {
        if (/Content Security Policy/i.test(m.text())) blocked.push(m.text());
      });
      await page.reload();
      const img = page.locator('.gallery-item[data-status="succeeded"] img');
      await img.waitFor();
      await expect.poll(() => img.evaluate((el) => (el as HTMLImageElement).naturalWidth)).toBeGreaterThan(0);
      const failed = page.locator('.gallery-item[data-status="failed"]');
      await expect.poll(() => failed.textContent()).toContain('refused the workflow');
      expect(blocked).toEqual([]);
      await screenshot(page, 'admin-images');

      await page.goto(`${sys.s.url}/admin`);
      const health = page.locator('[data-testid="comfyui-health"]');
      await expect.poll(() => health.textContent()).toMatch(/A\s+up[\s\S]*B\s+up/);
    });
  },
);
