// The built page in every engine this machine has, from one scenario (an engine list, not
// copies; the engines are tests/engines.ts): Chromium, Firefox ESR with WebGPU on Mesa's lavapipe
// and without WebGPU, and WebKitGTK (no WebGPU) in the machine's own C locale. dist/ is served
// under a sub-path as a host would. Same seed, same losses: the CPU module's curve is the same
// to the bit in every engine, and Firefox's WebGPU path agrees with it to float precision. In
// each: the charts have points, the analyses run, a reload finds the run, and with every server
// stopped the page still boots and trains from the service worker's caches and IndexedDB. And
// the npm package in each: the README's quickstart (or, without WebGPU, its CPU example) trains,
// the PRNG and Flax-init SHA-256 checks equal the spec, and bad inputs are refused clearly.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { DATA_DIR, serve } from './browser.js';
import { chromium as chromiumEngine, firefox, webkit as webkitEngine, type Engine, type Tab } from './engines.js';
import { installPackage, type Installed } from './packaged.js';

const SMALL = 'hidden=32&limit=1024&batchSize=64&epochs=1&activations=relu,tanh&seed=3';
// ../shared/spec, or $ACTLAB_SPEC_DIR: any files of the same schemas.
const SPEC_DIR = process.env.ACTLAB_SPEC_DIR ?? resolve('../shared/spec');

interface Run { activation: string; losses: number[]; valAccuracy: number[]; testAccuracy: number | null }
interface Seen { state: string; device: string | null; cpuBuild: 'relaxed' | 'plain' | null; status: string; runs: Run[]; notice: string; language: string; old: boolean; charts: number[]; analysed: boolean; controlled: boolean; runId: string | null }

const SEEN = `(() => ({
  state: window.actlab ? window.actlab.state : 'loading',
  device: window.actlab ? window.actlab.device : null,
  cpuBuild: window.actlab ? window.actlab.cpuBuild : null,
  status: document.getElementById('status').textContent,
  runs: window.actlab ? JSON.parse(JSON.stringify(window.actlab.runs)) : [],
  notice: document.getElementById('notice').hidden ? '' : document.getElementById('notice').textContent,
  language: navigator.language,
  old: window.actlabOld === true,
  charts: window.actlab && window.actlab.state === 'ready' ? Object.values(window.actlab.chartPoints().loss) : [],
  analysed: !!(window.actlab && window.actlab.analyses),
  controlled: !!(navigator.serviceWorker && navigator.serviceWorker.controller),
  runId: window.actlab ? window.actlab.runId : null,
}))()`;

const chromium = chromiumEngine();
const firefoxGpu = firefox(true);
const firefoxCpu = firefox(false);
const webkit = webkitEngine();

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

/** Waits for the page to be ready on a device. Without WebGPU it says so and offers the CPU
 * module, which a user takes; the page remembers that choice, so a reload starts on the CPU. */
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

const reload = (tab: Tab) => tab.evaluate(`(window.actlabOld = true, setTimeout(() => location.reload(), 0), 0)`);
const trainRun = async (tab: Tab, before: Seen) => {
  await tab.evaluate(`(document.querySelector('#train').click(), 0)`);
  // A run this small may be over before a poll could see it training: wait for a new run's results.
  return until(tab, (s) => s.runId !== before.runId && s.state === 'ready' && s.runs.length === 2 && s.runs.every((r) => r.testAccuracy !== null), 10 * 60_000);
};

/** Opens the page from its own servers (`hosted`: then stops them and goes on offline), trains
 * the small run, and says what it saw. */
async function train(engine: Engine, q: string, hosted: boolean): Promise<Seen> {
  const data = await serve({ '/': DATA_DIR }, { cors: true });
  const site = await serve({ '/actlab/': 'dist' });
  const tab = await engine.open(`${site.url}/actlab/?${SMALL}&data=${encodeURIComponent(`${data.url}/`)}${q}`);
  try {
    const ready = await boot(engine, tab, (s) => !s.old);
    expect(ready.runs).toEqual([]);
    const done = await trainRun(tab, ready);
    const device = done.device === 'cpu' ? `CPU module, ${done.cpuBuild === 'relaxed' ? 'relaxed SIMD' : 'plain SIMD'} build` : 'WebGPU';
    console.log(`${engine.name} ${engine.version()} (${device}, language "${done.language}"): ${done.runs.map((r) => `${r.activation} loss ${r.losses.at(-1)!.toFixed(6)}, test ${(100 * r.testAccuracy!).toFixed(2)}%`).join('; ')}`);
    // Charted, analysed on this device, and found again after a reload (IndexedDB), on the
    // same device without asking again.
    expect(done.charts.length).toBeGreaterThan(0);
    done.charts.forEach((n) => expect(n).toBeGreaterThan(0));
    await tab.evaluate(`(document.querySelector('#analyse').click(), 0)`);
    await until(tab, (s) => s.state === 'ready' && s.analysed, 5 * 60_000);
    await reload(tab);
    const back = await until(tab, (s) => !s.old && s.state === 'ready' && s.device !== null, 5 * 60_000);
    expect(back.device).toBe(done.device);
    expect(back.runs.map((r) => r.losses)).toEqual(done.runs.map((r) => r.losses));
    if (hosted) {
      // Every server stopped: the page, its JS and the .wasm from the service worker's caches,
      // the data from IndexedDB; it boots, finds the run and trains it again, the same.
      await until(tab, (s) => s.controlled, 60_000);
      await site.close();
      await data.close();
      await reload(tab);
      const offline = await until(tab, (s) => !s.old && s.state === 'ready' && s.device !== null, 5 * 60_000);
      expect(offline.runs.map((r) => r.losses)).toEqual(done.runs.map((r) => r.losses));
      const again = await trainRun(tab, offline);
      expect(again.runs.map((r) => r.losses)).toEqual(done.runs.map((r) => r.losses));
      console.log(`${engine.name} (${device}): offline, from the service worker and IndexedDB, it booted and trained the same run again${again.notice ? `; the page says: "${again.notice}"` : ''}`);
    }
    return done;
  } finally {
    await Promise.race([tab.close(), new Promise((r) => setTimeout(r, 10_000))]);
    await site.close().catch(() => undefined);
    await data.close().catch(() => undefined);
  }
}

interface SpecReport { module: string[]; checked: number; wrong: string[]; refused: string[] }

/** The npm package in `engine`: the reference vectors and bad inputs (tests/fixtures/spec),
 * then the README's quickstart where there is WebGPU, or its CPU example where there is not. */
async function npmPackage(engine: Engine, webgpu: boolean): Promise<void> {
  let tab = await engine.open(`${pkg.url}/spec-page/?gpu=1`);
  const end = Date.now() + 10 * 60_000;
  let out: { report?: SpecReport; error?: string } = {};
  while (!out.report && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 1000));
    out = await tab.evaluate<typeof out>('({ report: window.specReport, error: window.specError })');
  }
  await tab.close();
  const { report, error } = out;
  expect(error ?? undefined).toBeUndefined(); // WebDriver gives undefined back as null
  expect(report!.wrong.slice(0, 10)).toEqual([]);
  expect(report!.module).toEqual(webgpu ? ['CPU module', 'WebGPU module'] : ['CPU module']);
  expect(report!.refused.length).toBe(7 * report!.module.length);
  expect(report!.checked).toBeGreaterThan(100 * report!.module.length);
  console.log(`${engine.name}, npm package: ${report!.checked} checks (PRNG of both modes, Flax and notebook init SHA-256, bad inputs) on ${report!.module.join(' and ')}, all as the spec; e.g. ${report!.refused[2]}`);
  tab = await engine.open(`${pkg.url}/${webgpu ? '' : 'cpu/'}`);
  let text = '';
  for (const stop = Date.now() + 10 * 60_000; !/accuracy/.test(text) && Date.now() < stop;) {
    await new Promise((r) => setTimeout(r, 1000));
    text = await tab.evaluate<string>(`document.querySelector('#out').textContent`);
  }
  await tab.close();
  console.log(`${engine.name}, the README's ${webgpu ? 'quickstart' : 'CPU example'}: ${text}`);
  expect(Number(/accuracy ([\d.]+)%/.exec(text)?.[1])).toBeGreaterThan(30);
}

let pkg: Awaited<ReturnType<typeof serve>>;
let installed: Installed;
const engines = [chromium, firefoxGpu, firefoxCpu, webkit];

beforeAll(async () => {
  installed = await installPackage({ quickstart: 'examples/quickstart', cpu: 'examples/cpu', spec: 'tests/fixtures/spec' });
  const tsc = resolve('node_modules/.bin/tsc');
  execFileSync(tsc, ['--noEmit', '--strict', '--skipLibCheck', '--target', 'es2022', '--module', 'esnext',
    '--moduleResolution', 'bundler', '--lib', 'es2022,dom,dom.iterable', 'main.ts'], { cwd: installed.sources.spec!, encoding: 'utf8' });
  pkg = await serve({
    '/': installed.sites.quickstart!, '/cpu/': installed.sites.cpu!, '/spec-page/': installed.sites.spec!, '/spec-page/spec/': SPEC_DIR,
    '/data/fashion-mnist/': DATA_DIR,
  });
}, 10 * 60_000);

afterAll(async () => {
  for (const e of engines) await e.stop();
  await pkg?.close();
});

describe('every engine', () => {
  // The CPU module's curve per build: plain SIMD128, and relaxed SIMD (fused multiply-adds)
  // where Chromium has it. Each engine's CPU run must equal its own build's curve to the bit.
  const reference: { plain: Run[]; relaxed?: Run[] } = { plain: [] };
  const near = (runs: Run[], to: Run[], tol: number) => {
    for (const [i, r] of runs.entries()) {
      expect(r.activation).toBe(to[i]!.activation);
      r.losses.forEach((l, j) => expect(Math.abs(l - to[i]!.losses[j]!)).toBeLessThan(tol));
    }
  };
  /** An engine's CPU run against the reference of the build it ran. */
  const sameAsReference = (seen: Seen) => {
    const build = seen.cpuBuild ?? 'plain';
    const want = reference[build];
    if (want) expect(seen.runs.map((r) => r.losses)).toEqual(want.map((r) => r.losses));
    else near(seen.runs, reference.plain, 1e-4); // Chromium had no such build to compare with
  };

  it('Chromium: the CPU module, plain SIMD and (where it has relaxed SIMD) fused multiply-adds (the reference curves)', async () => {
    const plain = await train(chromium, '&device=cpu&simd=plain', false);
    expect(plain.device).toBe('cpu');
    expect(plain.cpuBuild).toBe('plain');
    reference.plain = plain.runs;
    for (const r of plain.runs) expect(r.testAccuracy!).toBeGreaterThan(0.3); // one epoch of 1,024 images; chance is 0.1
    const auto = await train(chromium, '&device=cpu', false);
    expect(auto.device).toBe('cpu');
    if (auto.cpuBuild === 'relaxed') {
      // The same run with fused products: the same to float precision, not to the bit.
      near(auto.runs, plain.runs, 1e-4);
      expect(auto.runs.map((r) => r.losses)).not.toEqual(plain.runs.map((r) => r.losses));
      reference.relaxed = auto.runs;
    } else {
      expect(auto.runs.map((r) => r.losses)).toEqual(plain.runs.map((r) => r.losses));
    }
    console.log(`Chromium: the CPU module's automatic choice is the ${auto.cpuBuild} build`);
    await chromium.stop();
  });

  it.runIf(firefoxGpu.available())('Firefox ESR: WebGPU (lavapipe, no "subgroups") trains the compiled stack, to float precision of the CPU module, also offline; the npm package', async () => {
    const seen = await train(firefoxGpu, '', true);
    expect(seen.device).toBe('gpu');
    near(seen.runs, reference.plain, 1e-4);
    await npmPackage(firefoxGpu, true);
    await firefoxGpu.stop();
  });

  it.runIf(firefoxCpu.available())('Firefox ESR without WebGPU: the CPU module, the same losses to the bit as its build\'s, also offline; the npm package', async () => {
    const seen = await train(firefoxCpu, '', true);
    expect(seen.device).toBe('cpu');
    sameAsReference(seen);
    await npmPackage(firefoxCpu, false);
    await firefoxCpu.stop();
  });

  it.runIf(webkit.available())('WebKitGTK in a C locale: no WebGPU, says so, the CPU module, the same losses to the bit as its build\'s, also offline; the npm package', async () => {
    const seen = await train(webkit, '', true);
    expect(seen.language).toBe('C');
    expect(seen.device).toBe('cpu');
    sameAsReference(seen);
    await npmPackage(webkit, false);
    await webkit.stop();
  });
});
