// The browser engines this machine has, each behind one small interface (open a URL, evaluate a
// script there, close), shared by tests/engines.e2e.ts and the benchmark (bench/run.ts):
// Chromium (playwright-core, WebGPU on SwiftShader), Firefox ESR (puppeteer-core over WebDriver
// BiDi, WebGPU on Mesa's lavapipe with the prefs that enable it, or without WebGPU) and WebKitGTK
// (selenium-webdriver against WebKitWebDriver under xvfb-run, no WebGPU; in a C locale, as this
// machine's own). Every engine is started by `open` and stopped by `stop`; nothing downloads.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { launch as launchFirefox, type Browser as Puppeteer } from 'puppeteer-core';
import { Builder, type WebDriver } from 'selenium-webdriver';
import type { Browser as Playwright, Page } from 'playwright-core';
import { launch } from './browser.js';

const FIREFOX = process.env.FIREFOX ?? '/usr/bin/firefox-esr';
const WEBKIT_DRIVER = process.env.WEBKIT_DRIVER ?? '/usr/bin/WebKitWebDriver';
const MINIBROWSER = process.env.MINIBROWSER ?? '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';
const XVFB = '/usr/bin/xvfb-run';
/** How long one evaluated script may run (a benchmark's setup loads data and compiles). */
const SCRIPT_MS = 30 * 60_000;

/** One open page in some engine: an expression's value there (a promise is awaited). */
export interface Tab {
  evaluate<T>(expression: string): Promise<T>;
  close(): Promise<void>;
  /** Chromium only: the Playwright page, for what only the DevTools protocol measures. */
  page?: Page;
}

export interface Engine {
  /** A name for logs and tables, e.g. "Firefox ESR". */
  name: string;
  /** Whether this machine has the engine (the project's setup installs all of them). */
  available(): boolean;
  /** The engine's version, once it runs. */
  version(): string;
  open(url: string): Promise<Tab>;
  stop(): Promise<void>;
}

export function chromium(): Engine {
  let browser: Playwright | undefined;
  return {
    name: 'Chromium',
    available: () => true,
    version: () => browser?.version() ?? '',
    async open(url) {
      browser ??= await launch();
      const page = await browser.newPage();
      page.setDefaultTimeout(0);
      await page.goto(url);
      return { evaluate: (e) => page.evaluate(e), close: () => page.close(), page };
    },
    async stop() {
      await browser?.close();
      browser = undefined;
    },
  };
}

/** Firefox ESR with WebGPU (on lavapipe here) or without it: a new browser (profile) per tab. */
export function firefox(webgpu: boolean): Engine {
  let browser: Puppeteer | undefined;
  let version = '';
  return {
    name: webgpu ? 'Firefox ESR' : 'Firefox ESR without WebGPU',
    available: () => existsSync(FIREFOX),
    version: () => version,
    async open(url) {
      await browser?.close();
      browser = await launchFirefox({
        browser: 'firefox', executablePath: FIREFOX, headless: true, protocolTimeout: SCRIPT_MS,
        extraPrefsFirefox: { 'dom.webgpu.enabled': webgpu, 'gfx.webgpu.ignore-blocklist': webgpu },
      });
      version = await browser.version();
      const page = await browser.newPage();
      page.setDefaultTimeout(0);
      await page.goto(url);
      return { evaluate: (e) => page.evaluate(e) as never, close: () => page.close() };
    },
    async stop() {
      await browser?.close();
      browser = undefined;
    },
  };
}

const freePort = () => new Promise<number>((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address() as { port: number };
    s.close(() => resolve(port));
  });
});

/** WebKitGTK's MiniBrowser: a new WebDriver session (and display) per tab. */
export function webkit(): Engine {
  let driverProcess: ChildProcess | undefined;
  let driver: WebDriver | undefined;
  let version = '';
  const stop = async () => {
    await driver?.quit().catch(() => {});
    driver = undefined;
    if (driverProcess?.pid) {
      try {
        process.kill(-driverProcess.pid); // xvfb-run, Xvfb and the driver
      } catch { /* gone */ }
    }
    driverProcess = undefined;
  };
  return {
    name: 'WebKitGTK',
    available: () => existsSync(WEBKIT_DRIVER) && existsSync(MINIBROWSER) && existsSync(XVFB),
    version: () => version,
    async open(url) {
      await stop();
      const port = await freePort();
      // WebKitGTK needs a display (it hangs without one). A C locale, as this machine's own (and
      // some Linux users'): WebKit then reports navigator.language "C", not a valid tag.
      driverProcess = spawn(XVFB, ['-a', WEBKIT_DRIVER, `--port=${port}`], { stdio: 'ignore', env: { ...process.env, LANG: 'C.UTF-8', LC_ALL: '' }, detached: true });
      const server = `http://127.0.0.1:${port}`;
      for (let i = 0; i < 100; i++) {
        const up = await fetch(`${server}/status`).then((r) => r.ok, () => false);
        if (up) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const session = await new Builder().usingServer(server).withCapabilities({
        browserName: 'MiniBrowser',
        'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] },
      }).build();
      driver = session;
      version = String((await session.getCapabilities()).get('browserVersion') ?? '');
      await session.manage().setTimeouts({ script: SCRIPT_MS });
      await session.get(url);
      // An async script, so that a promise's value (or its error) comes back whatever the
      // driver does with a returned promise.
      const evaluate = async <T>(e: string): Promise<T> => {
        const out = await session.executeAsyncScript(`const done = arguments[arguments.length - 1];
          Promise.resolve().then(() => (${e})).then((value) => done({ value }), (e) => done({ error: String(e && e.stack || e) }));`) as { value?: T; error?: string };
        if (out.error !== undefined) throw new Error(out.error);
        return out.value as T;
      };
      return { evaluate, close: async () => {} };
    },
    stop,
  };
}

/** The engines by the names `npm run bench -- --engine` takes. */
export const ENGINES: Record<string, () => Engine> = {
  chromium,
  firefox: () => firefox(true),
  'firefox-nowebgpu': () => firefox(false),
  webkit,
};
