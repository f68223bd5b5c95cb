// The built page in every engine this machine has, from one scenario (an engine list, not
// copies): Chromium (playwright-core), Firefox ESR (puppeteer-core over WebDriver BiDi, WebGPU on
// Mesa's lavapipe with the prefs that enable it) and WebKitGTK (selenium-webdriver against
// WebKitWebDriver under xvfb-run, no WebGPU; in the machine's own C locale). dist/ is served
// under a sub-path as a host would. Same seed, same losses: the CPU module's curve is the same
// to the bit in every engine, and Firefox's WebGPU path agrees with it to float precision. In
// each: the charts have points, the analyses run, and a reload finds the run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { launch as launchFirefox, type Browser as Puppeteer } from 'puppeteer-core';
import { Builder, type WebDriver } from 'selenium-webdriver';
import type { Browser as Playwright } from 'playwright-core';
import { DATA_DIR, launch, serve } from './browser.js';

const FIREFOX = process.env.FIREFOX ?? '/usr/bin/firefox-esr';
const WEBKIT_DRIVER = process.env.WEBKIT_DRIVER ?? '/usr/bin/WebKitWebDriver';
const MINIBROWSER = process.env.MINIBROWSER ?? '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';
const XVFB = '/usr/bin/xvfb-run';

const SMALL = 'hidden=32&limit=1024&batchSize=64&epochs=1&activations=relu,tanh&seed=3';

interface Run { activation: string; losses: number[]; valAccuracy: number[]; testAccuracy: number | null }
interface Seen { state: string; device: string | null; status: string; runs: Run[]; notice: string; language: string; old: boolean; charts: number[]; analysed: boolean }

/** One open page in some engine: a script evaluated there (an expression's value) and a way out. */
interface Tab { evaluate<T>(expression: string): Promise<T>; close(): Promise<void> }
interface Engine { name: string; available: () => boolean; open(url: string): Promise<Tab>; stop(): Promise<void> }

const SEEN = `(() => ({
  state: window.actlab ? window.actlab.state : 'loading',
  device: window.actlab ? window.actlab.device : null,
  status: document.getElementById('status').textContent,
  runs: window.actlab ? JSON.parse(JSON.stringify(window.actlab.runs)) : [],
  notice: document.getElementById('notice').hidden ? '' : document.getElementById('notice').textContent,
  language: navigator.language,
  old: window.actlabOld === true,
  charts: window.actlab && window.actlab.state === 'ready' ? Object.values(window.actlab.chartPoints().loss) : [],
  analysed: !!(window.actlab && window.actlab.analyses),
}))()`;

let playwright: Playwright | undefined;
const chromium: Engine = {
  name: 'Chromium',
  available: () => true,
  async open(url) {
    playwright ??= await launch();
    const page = await playwright.newPage();
    await page.goto(url);
    return { evaluate: (e) => page.evaluate(e), close: () => page.close() };
  },
  async stop() {
    await playwright?.close();
  },
};

let puppeteer: Puppeteer | undefined;
const firefox = (webgpu: boolean): Engine => ({
  name: webgpu ? 'Firefox ESR' : 'Firefox ESR without WebGPU',
  available: () => existsSync(FIREFOX),
  async open(url) {
    // One browser per WebGPU setting (prefs are the profile's).
    await puppeteer?.close();
    puppeteer = await launchFirefox({
      browser: 'firefox', executablePath: FIREFOX, headless: true,
      extraPrefsFirefox: { 'dom.webgpu.enabled': webgpu, 'gfx.webgpu.ignore-blocklist': webgpu },
    });
    const page = await puppeteer.newPage();
    await page.goto(url);
    return { evaluate: (e) => page.evaluate(e) as never, close: () => page.close() };
  },
  async stop() {
    await puppeteer?.close();
    puppeteer = undefined;
  },
});

let webkitDriver: ChildProcess | undefined;
let webdriver: WebDriver | undefined;
const freePort = () => new Promise<number>((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address() as { port: number };
    s.close(() => resolve(port));
  });
});
const webkit: Engine = {
  name: 'WebKitGTK',
  available: () => existsSync(WEBKIT_DRIVER) && existsSync(MINIBROWSER) && existsSync(XVFB),
  async open(url) {
    const port = await freePort();
    // WebKitGTK needs a display (it hangs without one). A C locale, as this machine's own (and
    // some Linux users'): WebKit then reports navigator.language "C", not a valid tag.
    webkitDriver = spawn(XVFB, ['-a', WEBKIT_DRIVER, `--port=${port}`], { stdio: 'ignore', env: { ...process.env, LANG: 'C.UTF-8', LC_ALL: '' }, detached: true });
    const server = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 100; i++) {
      const up = await fetch(`${server}/status`).then((r) => r.ok, () => false);
      if (up) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    webdriver = await new Builder().usingServer(server).withCapabilities({
      browserName: 'MiniBrowser',
      'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] },
    }).build();
    await webdriver.get(url);
    return {
      evaluate: async <T>(e: string) => (await webdriver!.executeScript(`return ${e}`)) as T,
      close: async () => {},
    };
  },
  async stop() {
    await webdriver?.quit().catch(() => {});
    if (webkitDriver?.pid) {
      try {
        process.kill(-webkitDriver.pid); // xvfb-run, Xvfb and the driver
      } catch { /* gone */ }
    }
  },
};

async function until(tab: Tab, done: (s: Seen) => boolean, timeout: number): Promise<Seen> {
  const end = Date.now() + timeout;
  // While a page navigates (a reload) an evaluation may fail: that is "not yet".
  const look = () => tab.evaluate<Seen>(SEEN).catch(() => null);
  let seen = await look();
  while (!seen || !done(seen)) {
    if (Date.now() > end) throw new Error(`timed out; the page shows: ${JSON.stringify(seen && { ...seen, runs: seen.runs.length })}`);
    if (seen?.state === 'error') throw new Error(`the page failed: ${seen.status}`);
    await new Promise((r) => setTimeout(r, 500));
    seen = await look();
  }
  return seen;
}

/** Waits for the page to be ready on a device; without WebGPU it says so and offers the CPU
 * module, which a user takes (again after a reload: the page does not remember the choice). */
async function boot(engine: Engine, tab: Tab, fresh: (s: Seen) => boolean): Promise<Seen> {
  let ready = await until(tab, (s) => fresh(s) && ((s.state === 'ready' && s.device !== null) || /does not offer WebGPU/.test(s.notice)), 5 * 60_000);
  if (ready.device === null) {
    expect(ready.status).toMatch(/WebGPU is not available in this browser/);
    await tab.evaluate(`(document.querySelector('#notice button').click(), 0)`);
    ready = await until(tab, (s) => fresh(s) && s.state === 'ready' && s.device === 'cpu', 5 * 60_000);
    console.log(`${engine.name}: "This browser does not offer WebGPU" → the CPU module`);
  }
  return ready;
}

/** Opens the page, trains the small run, and says what it saw. */
async function train(engine: Engine, url: string): Promise<Seen> {
  const tab = await engine.open(url);
  try {
    const ready = await boot(engine, tab, (s) => !s.old);
    expect(ready.runs).toEqual([]);
    await tab.evaluate(`(document.querySelector('#train').click(), 0)`);
    // A run this small may be over before a poll could see it training: wait for its results.
    const done = await until(tab, (s) => s.state === 'ready' && s.runs.length === 2 && s.runs.every((r) => r.testAccuracy !== null), 10 * 60_000);
    console.log(`${engine.name} (${done.device === 'cpu' ? 'CPU module' : 'WebGPU'}, language "${done.language}"): ${done.runs.map((r) => `${r.activation} loss ${r.losses.at(-1)!.toFixed(6)}, test ${(100 * r.testAccuracy!).toFixed(2)}%`).join('; ')}`);
    // Charted, analysed on this device, and found again after a reload (IndexedDB).
    expect(done.charts.length).toBeGreaterThan(0);
    done.charts.forEach((n) => expect(n).toBeGreaterThan(0));
    await tab.evaluate(`(document.querySelector('#analyse').click(), 0)`);
    await until(tab, (s) => s.state === 'ready' && s.analysed, 5 * 60_000);
    await tab.evaluate(`(window.actlabOld = true, setTimeout(() => location.reload(), 0), 0)`);
    const back = await boot(engine, tab, (s) => !s.old);
    expect(back.runs.map((r) => r.losses)).toEqual(done.runs.map((r) => r.losses));
    return done;
  } finally {
    await Promise.race([tab.close(), new Promise((r) => setTimeout(r, 10_000))]);
  }
}

let site: Awaited<ReturnType<typeof serve>>;
let data: Awaited<ReturnType<typeof serve>>;
const engines = [chromium, firefox(true), firefox(false), webkit];

beforeAll(async () => {
  data = await serve({ '/': DATA_DIR }, { cors: true });
  site = await serve({ '/actlab/': 'dist' });
});

afterAll(async () => {
  for (const e of engines) await e.stop();
  await site?.close();
  await data?.close();
});

describe('every engine', () => {
  const url = (q: string) => `${site.url}/actlab/?${SMALL}&data=${encodeURIComponent(`${data.url}/`)}${q}`;
  let reference: Run[] = [];

  it('Chromium: the CPU module (the reference curve)', async () => {
    const seen = await train(chromium, url('&device=cpu'));
    expect(seen.device).toBe('cpu');
    reference = seen.runs;
    for (const r of reference) expect(r.testAccuracy!).toBeGreaterThan(0.3); // one epoch of 1,024 images; chance is 0.1
  });

  it.runIf(firefox(true).available())('Firefox ESR: WebGPU (lavapipe, no "subgroups") trains the compiled stack, to float precision of the CPU module', async () => {
    const seen = await train(firefox(true), url(''));
    expect(seen.device).toBe('gpu');
    for (const [i, r] of seen.runs.entries()) {
      expect(r.activation).toBe(reference[i]!.activation);
      r.losses.forEach((l, j) => expect(Math.abs(l - reference[i]!.losses[j]!)).toBeLessThan(1e-4));
    }
  });

  it.runIf(firefox(false).available())('Firefox ESR without WebGPU: the CPU module, the same losses to the bit', async () => {
    const seen = await train(firefox(false), url(''));
    expect(seen.device).toBe('cpu');
    expect(seen.runs.map((r) => r.losses)).toEqual(reference.map((r) => r.losses));
  });

  it.runIf(webkit.available())('WebKitGTK in a C locale: no WebGPU, says so, the CPU module, the same losses to the bit', async () => {
    const seen = await train(webkit, url(''));
    expect(seen.language).toBe('C');
    expect(seen.device).toBe('cpu');
    expect(seen.runs.map((r) => r.losses)).toEqual(reference.map((r) => r.losses));
  });
});
