// dist/ as a hosted static site: served by a plain static server (sirv: no Vite, no middleware)
// under a sub-path, with the data from a second origin that allows CORS, or from the copy the
// build bundled; then, with every server stopped, the page still loads and trains from the
// service worker's caches and IndexedDB.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { DATA_DIR, launch, logConsole, serve } from './browser.js';

const SMALL = 'hidden=32&limit=512&batchSize=64&epochs=1&activations=relu,tanh&seed=3';

interface Run { activation: string; losses: number[]; testAccuracy: number | null }

let browser: Browser;

beforeAll(async () => {
  browser = await launch();
});

afterAll(async () => {
  await browser?.close();
});

async function train(page: Page): Promise<Run[]> {
  await page.getByRole('button', { name: 'Train', exact: true }).click();
  await page.waitForFunction(() => window.actlab?.state === 'training', null, { timeout: 30_000 });
  await page.waitForFunction(() => window.actlab?.state === 'ready', null, { timeout: 10 * 60_000, polling: 500 });
  return page.evaluate(() => structuredClone(window.actlab.runs)) as Promise<Run[]>;
}

const ready = (page: Page) => page.waitForFunction(() => window.actlab?.state === 'ready', null, { timeout: 5 * 60_000, polling: 250 });

describe('the hosted page', () => {
  it('works from a static server under a sub-path, with data from another origin or bundled, and offline after', async () => {
    expect(existsSync('dist/data/fashion-mnist/train-images-idx3-ubyte.gz')).toBe(true); // the build bundled the data
    const data = await serve({ '/': DATA_DIR }, { cors: true });
    const site = await serve({ '/actlab/': 'dist' });
    const context = await browser.newContext();
    const page = await context.newPage();
    logConsole(page, 'hosted');
    try {
      // The data from a second origin (another port), through ?data=.
      await page.goto(`${site.url}/actlab/?${SMALL}&data=${encodeURIComponent(`${data.url}/`)}`);
      await ready(page);
      expect(await page.locator('#data-url').textContent()).toBe(`${data.url}/`);
      const fromMirror = await train(page);
      expect(fromMirror.map((r) => r.losses.length)).toEqual([8, 8]);

      // The bundled copy, the build's default: relative to the page, under /actlab/.
      await page.goto(`${site.url}/actlab/?${SMALL}`);
      await ready(page);
      expect(await page.locator('#data-url').textContent()).toBe(`${site.url}/actlab/data/fashion-mnist/`);
      expect(await page.locator('#status').textContent()).toContain('Ready: 50000 training');
      const bundled = await train(page);
      // Same seed, same data: the same curves whichever origin served the bytes.
      expect(bundled.map((r) => r.losses)).toEqual(fromMirror.map((r) => r.losses));
      await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 60_000 });

      // Every server stopped: the page, its JS and the .wasm come from the service worker's
      // caches, the data from IndexedDB.
      await site.close();
      await data.close();
      await page.reload();
      await ready(page);
      const offline = await train(page);
      expect(offline.map((r) => r.losses)).toEqual(bundled.map((r) => r.losses));
      for (const r of offline) expect(r.testAccuracy).toBeGreaterThan(0.3);
    } finally {
      await context.close();
      await site.close().catch(() => undefined);
      await data.close().catch(() => undefined);
    }
  });
});
