// The built page (dist/, from `vite build`) in headless Chromium on WebGPU: real FashionMNIST
// from a local server, two activations trained on a small network, the same seed twice, the
// IndexedDB cache, corrupt data, no WebGPU, a phone-width screen and an accessibility check.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { ARTIFACTS, DATA_DIR, launch, logConsole, serve } from './browser.js';

const FILES = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'];
// A small network on a few hundred images: SwiftShader runs WebGPU on the CPU.
const SMALL = 'hidden=32&limit=512&batchSize=64&epochs=1&activations=relu,tanh&seed=7';

interface Run { activation: string; losses: number[]; valAccuracy: number[]; testAccuracy: number | null; stoppedEarly: boolean }

let browser: Browser;
let server: Awaited<ReturnType<typeof serve>>;

/** Copies of the data with one file broken: a truncated gzip, and a valid gzip of non-IDX bytes. */
function brokenDataDirs(): { truncated: string; badMagic: string } {
  const root = mkdtempSync(join(tmpdir(), 'actlab-e2e-'));
  const make = (name: string, broken: string, bytes: (orig: Buffer) => Buffer) => {
    const dir = join(root, name);
    mkdirSync(dir);
    for (const f of FILES) copyFileSync(join(DATA_DIR, f), join(dir, f));
    writeFileSync(join(dir, broken), bytes(readFileSync(join(DATA_DIR, broken))));
    return dir;
  };
  return {
    truncated: make('truncated', 'train-labels-idx1-ubyte.gz', (b) => b.subarray(0, b.length - 100)),
    badMagic: make('badmagic', 't10k-labels-idx1-ubyte.gz', () => gzipSync(Buffer.from('not an IDX file at all'))),
  };
}

async function waitForState(page: Page, state: string, timeout = 10 * 60_000): Promise<void> {
  await page.waitForFunction((s) => window.actlab?.state === s, state, { timeout, polling: 500 });
}

/** Records the page thread's long tasks (over 50 ms) from the start, for `longTasks`. */
async function watchLongTasks(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const w = window as unknown as { longTasks: { start: number; duration: number }[] };
    w.longTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.longTasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: 'longtask', buffered: true });
  });
}

/** The page thread's long tasks since `since` (performance.now() of the page). */
function longTasks(page: Page, since: number): Promise<{ start: number; duration: number }[]> {
  return page.evaluate((t) => (window as unknown as { longTasks: { start: number; duration: number }[] }).longTasks.filter((e) => e.start >= t), since);
}

async function trainAndWait(page: Page): Promise<Run[]> {
  await page.getByRole('button', { name: 'Train', exact: true }).click();
  await waitForState(page, 'training', 30_000);
  await waitForState(page, 'ready');
  return page.evaluate(() => structuredClone(window.actlab.runs)) as Promise<Run[]>;
}

beforeAll(async () => {
  const broken = brokenDataDirs();
  server = await serve({ '/': 'dist', '/data/fashion-mnist/': DATA_DIR, '/truncated/': broken.truncated, '/badmagic/': broken.badMagic });
  browser = await launch();
  mkdirSync(ARTIFACTS, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('the page', () => {
  it('trains two activations on real FashionMNIST, charts them, and repeats a seed bit for bit', async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 1400 } });
    logConsole(page, 'app');
    await watchLongTasks(page);
    const dataRequests: string[] = [];
    page.on('request', (r) => { if (r.url().includes('/data/fashion-mnist/')) dataRequests.push(r.url()); });
    const t0 = Date.now();
    await page.goto(`${server.url}/?${SMALL}`);
    await waitForState(page, 'ready');
    expect(dataRequests).toHaveLength(4);
    const status = await page.locator('#status').textContent();
    expect(status).toContain('Ready: 50000 training, 10000 validation and 10000 test images');

    expect(await page.evaluate(() => window.actlab.thread)).toBe('worker');

    const tTrain = Date.now();
    const since = await page.evaluate(() => performance.now());
    const first = await trainAndWait(page);
    console.log(`page ready after ${((tTrain - t0) / 1000).toFixed(1)} s; first run (2 activations) ${((Date.now() - tTrain) / 1000).toFixed(1)} s`);
    // The trainer runs in a worker: while it compiles and trains, the page's thread has no task
    // over 50 ms (a "long task"), so the form and the charts respond.
    const long = await longTasks(page, since);
    console.log(`long tasks on the page's thread while training (trainer in a worker): ${JSON.stringify(long.map((t) => Math.round(t.duration)))}`);
    expect(long).toEqual([]);
    expect(first.map((r) => r.activation)).toEqual(['tanh', 'relu']); // the page's order
    for (const r of first) {
      expect(r.losses).toHaveLength(8); // 512 images / batch 64
      expect(r.losses.every(Number.isFinite)).toBe(true);
      expect(r.valAccuracy).toHaveLength(1);
      expect(r.valAccuracy[0]).toBeGreaterThan(0.3); // chance is 0.1
      expect(r.testAccuracy).toBeGreaterThan(0.3);
    }
    // Same initial params for both: the first losses differ only through the activation.
    expect(first[0]!.losses[0]).not.toBe(first[1]!.losses[0]);
    const points = await page.evaluate(() => window.actlab.chartPoints());
    expect(points).toEqual({ loss: { relu: 8, tanh: 8 }, accuracy: { relu: 1, tanh: 1, 'relu (training)': 1, 'tanh (training)': 1 } });
    await expect.poll(() => page.locator('#loss-chart canvas').count()).toBeGreaterThan(0);
    expect(await page.locator('#results tbody tr').count()).toBe(2);
    // Beside each result, the tutorial's published values and the difference to them.
    const relu = page.locator('#results tbody tr', { hasText: 'relu' }).locator('td');
    expect(await relu.count()).toBe(8);
    expect(await relu.nth(5).textContent()).toBe('88.65%');
    expect(await relu.nth(6).textContent()).toMatch(/^[+-]\d+\.\d\d$/);
    expect(await page.locator('#samples figure').count()).toBe(16);
    await page.screenshot({ path: `${ARTIFACTS}/app.png`, fullPage: true });

    // The same seed again: identical curves, bit for bit (same device).
    const curves = (runs: Run[]) => runs.map(({ activation, losses, valAccuracy, testAccuracy }) =>
      ({ activation, losses, valAccuracy, testAccuracy }));
    const second = await trainAndWait(page);
    expect(curves(second)).toEqual(curves(first));

    // The same run with the trainer on the page's thread (where a worker has no WebGPU):
    // the same curves, and the long tasks it causes there (for the record).
    await page.goto(`${server.url}/?${SMALL}&thread=page`);
    await waitForState(page, 'ready');
    expect(await page.evaluate(() => window.actlab.thread)).toBe('page');
    const sincePage = await page.evaluate(() => performance.now());
    expect(curves(await trainAndWait(page))).toEqual(curves(first));
    const longPage = await longTasks(page, sincePage);
    console.log(`long tasks on the page's thread while training (trainer on it): ${longPage.length}, longest ${Math.round(Math.max(0, ...longPage.map((t) => t.duration)))} ms`);

    // A reload reads the dataset from IndexedDB: no data requests.
    dataRequests.length = 0;
    await page.reload();
    await waitForState(page, 'ready');
    expect(dataRequests).toEqual([]);
    await page.close();
  });

  it('trains a formula of the user\'s own beside ReLU: the editor plots it, refuses a broken one, and a reload finds the run', async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 1400 } });
    logConsole(page, 'custom');
    const base = `${server.url}/?hidden=32&limit=512&batchSize=64&epochs=1&seed=3`;
    await page.goto(`${base}&activations=relu`);
    await waitForState(page, 'ready');
    await page.locator('#editor summary').click();
    const formula = page.locator('#fn-formula');
    // A broken formula: the error under its column, and nothing to add.
    await formula.fill('x * tanh(');
    await expect.poll(() => page.locator('#fn-error').textContent()).toMatch(/column 10: expected a number, x, a parameter, a function or '\('/);
    expect(await page.locator('#fn-error').textContent()).toContain('x * tanh(\n         ^');
    expect(await page.locator('#fn-add').isDisabled()).toBe(true);
    // A good one with a parameter: plotted, its derivative shown, added to the run.
    await page.locator('#fn-name').fill('mish_like');
    await page.getByRole('button', { name: 'Add a parameter' }).click();
    await page.locator('.p-name').fill('b');
    await page.locator('.p-value').fill('1.2');
    await formula.fill('x * tanh(softplus(b * x))');
    await expect.poll(() => page.locator('#fn-derivative').textContent()).toMatch(/^f′\(x\) = .*softplus/);
    await expect.poll(() => page.locator('#fn-add').isDisabled()).toBe(false);
    expect(await page.locator('#fn-chart canvas').count()).toBeGreaterThan(0);
    await page.locator('#fn-add').click();
    const box = page.locator('input[name=activations][value=mish_like]');
    expect(await box.isChecked()).toBe(true);
    // A formula that is not finite on [-5, 5] is flagged before training.
    await page.locator('#fn-name').fill('logx');
    await formula.fill('log(x)');
    await expect.poll(() => page.locator('#fn-warning').textContent()).toMatch(/not finite at x = -5/);

    const runs = await trainAndWait(page);
    expect(runs.map((r) => r.activation)).toEqual(['relu', 'mish_like']);
    for (const r of runs) {
      expect(r.losses).toHaveLength(8);
      expect(r.losses.every(Number.isFinite)).toBe(true);
      expect(r.testAccuracy).toBeGreaterThan(0.3);
    }
    expect(runs[0]!.losses[0]).not.toBe(runs[1]!.losses[0]);
    const row = page.locator('#results tbody tr', { hasText: 'mish_like' });
    expect(await row.locator('code').textContent()).toBe('x * tanh(softplus(b * x)), b = 1.2');
    expect(await row.locator('td').nth(5).textContent()).toBe('–'); // not one of the tutorial's
    // The URL shares it; a reload finds the run, its formula and its charts.
    expect(new URL(page.url()).searchParams.getAll('fn')).toEqual(['mish_like:x * tanh(softplus(b * x));b=1.2']);
    await page.reload();
    await waitForState(page, 'ready');
    const again = await page.evaluate(() => structuredClone(window.actlab.runs)) as Run[];
    expect(again.map((r) => r.losses)).toEqual(runs.map((r) => r.losses));
    expect(await page.evaluate(() => window.actlab.config?.custom)).toEqual({ mish_like: { formula: 'x * tanh(softplus(b * x))', params: { b: 1.2 } } });
    expect(await page.evaluate(() => window.actlab.chartPoints())).toEqual({ loss: { relu: 8, mish_like: 8 }, accuracy: { relu: 1, mish_like: 1, 'relu (training)': 1, 'mish_like (training)': 1 } });
    expect(await page.locator('#results tbody tr', { hasText: 'mish_like' }).locator('code').textContent()).toBe('x * tanh(softplus(b * x)), b = 1.2');
    expect(await page.locator('input[name=activations][value=mish_like]').isChecked()).toBe(true);
    await page.screenshot({ path: `${ARTIFACTS}/custom-activation.png`, fullPage: true });

    // A broken formula in a shared URL trains nothing and says where the mistake is.
    await page.goto(`${base}&activations=bad&fn=${encodeURIComponent('bad:x +')}`);
    await waitForState(page, 'ready');
    await page.getByRole('button', { name: 'Train', exact: true }).click();
    await waitForState(page, 'error', 60_000);
    expect(await page.locator('#status').textContent()).toMatch(/invalid activation formula: column 4: expected/);
    await page.close();
  });

  it('shows the analyses, and a checkpoint continues after a reload like an uninterrupted run', async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 1400 }, acceptDownloads: true });
    logConsole(page, 'analyses');
    const base = `${server.url}/?hidden=32,16&limit=512&batchSize=64&seed=11`;
    await page.goto(`${base}&epochs=1&activations=sigmoid,relu`);
    await waitForState(page, 'ready');

    // The analyses view at initialisation: every chart has data for both activations.
    await page.getByRole('button', { name: 'Analyse' }).click();
    await waitForState(page, 'training', 30_000);
    await waitForState(page, 'ready');
    type Analyses = { charts: Record<string, Record<string, number>>; gradMeans: Record<string, number[]>; dead: Record<string, { init: number[]; trained: number[] | null }> };
    const analyses = await page.evaluate(() => structuredClone(window.actlab.analyses)) as Analyses;
    const both = (n: number) => ({ sigmoid: n, relu: n });
    // Activations are drawn for the trained model beside the one at init; untrained, only the latter.
    const atInit = (n: number) => ({ 'sigmoid (at init)': n, 'relu (at init)': n });
    expect(analyses.charts).toEqual({
      'fn-chart': both(201), 'dfn-chart': both(201), 'grad-mean-chart': both(3),
      'grad-hist-1': both(40), 'grad-hist-2': both(40), 'grad-hist-3': both(40), 'act-hist-1': atInit(40), 'act-hist-2': atInit(40),
    });
    // Vanishing gradients: Sigmoid's first layer gets a smaller mean gradient than ReLU's.
    console.log('mean |grad| per layer at init', JSON.stringify(analyses.gradMeans));
    expect(analyses.gradMeans.sigmoid![0]).toBeLessThan(analyses.gradMeans.relu![0]!);
    for (const a of ['sigmoid', 'relu']) {
      expect(analyses.dead[a]!.init).toHaveLength(2);
      analyses.dead[a]!.init.forEach((f) => expect(f >= 0 && f <= 1).toBe(true));
      expect(analyses.dead[a]!.trained).toBeNull();
    }
    expect(analyses.dead.sigmoid!.init).toEqual([0, 0]); // sigmoid is never exactly 0
    await expect.poll(() => page.locator('#analyses canvas').count()).toBe(8);
    await page.screenshot({ path: `${ARTIFACTS}/analyses.png`, fullPage: true });

    // Uninterrupted: two epochs of ReLU.
    await page.goto(`${base}&epochs=2&activations=relu`);
    await waitForState(page, 'ready');
    const [uninterrupted] = await trainAndWait(page);
    expect(uninterrupted!.losses).toHaveLength(16);

    // One epoch, then save the checkpoint (the state after epoch 1) as a file.
    await page.goto(`${base}&epochs=1&activations=relu`);
    await waitForState(page, 'ready');
    const [first] = await trainAndWait(page);
    // Each page load compiles and autotunes its kernels anew and may pick others, whose sums
    // round differently: equal to float32 rounding, not bit for bit (within a page they are).
    first!.losses.forEach((l, i) => expect(l).toBeCloseTo(uninterrupted!.losses[i]!, 5));
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Save checkpoint' }).click()]);
    expect(download.suggestedFilename()).toBe('actlab-relu-seed11-epoch1.actlab');
    const file = join(mkdtempSync(join(tmpdir(), 'actlab-ckpt-')), download.suggestedFilename());
    await download.saveAs(file);
    // The best model in Flax's layout: to_bytes({"params": {"Dense_0": ..., "Dense_1": ..., "Dense_2": ...}}).
    const [flax] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export best model for Flax' }).click()]);
    const flaxBytes = readFileSync(await flax.path());
    expect(flaxBytes.subarray(0, 17)).toEqual(Buffer.from('\x81\xa6params\x83\xa7Dense_0', 'latin1'));
    // Every float32 of 784-32-16-10 is there (plus a few hundred bytes of keys and headers).
    const floats = 784 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10;
    expect(flaxBytes.length).toBeGreaterThan(4 * floats);
    expect(flaxBytes.length).toBeLessThan(4 * floats + 300);

    // Reload (asking for 2 epochs): the finished runs are still listed; a broken file is refused
    // with a clear message; the checkpoint continues with epoch 2 exactly as the uninterrupted run.
    await page.goto(`${base}&epochs=2&activations=relu`);
    await waitForState(page, 'ready');
    expect(await page.locator('#saved-runs option').count()).toBe(2);
    const bytes = readFileSync(file);
    await page.setInputFiles('#load-checkpoint', { name: 'cut.actlab', mimeType: 'application/octet-stream', buffer: bytes.subarray(0, 1000) });
    await waitForState(page, 'error', 60_000);
    expect(await page.locator('#status').textContent()).toMatch(/truncated checkpoint: \d+ bytes expected, 1000 present/);
    await page.setInputFiles('#load-checkpoint', file);
    await waitForState(page, 'training', 30_000);
    await waitForState(page, 'ready');
    const [continued] = await page.evaluate(() => structuredClone(window.actlab.runs)) as Run[];
    expect(continued!.losses).toHaveLength(16);
    expect(continued!.losses.slice(0, 8)).toEqual(first!.losses);
    continued!.losses.slice(8).forEach((l, i) => expect(l).toBeCloseTo(uninterrupted!.losses[8 + i]!, 5));
    console.log('epoch 2 losses, continued vs uninterrupted', continued!.losses.slice(8), uninterrupted!.losses.slice(8));
    expect(continued!.valAccuracy[1]).toBeCloseTo(uninterrupted!.valAccuracy[1]!, 5);

    // A lost device is reported, and a new one trains.
    await page.evaluate(() => window.actlab.loseDevice());
    await expect.poll(() => page.locator('#status').textContent()).toContain('The GPU device was lost (destroyed');
    await page.getByRole('button', { name: 'Start a new GPU device' }).click();
    await expect.poll(() => page.locator('#status').textContent(), { timeout: 60_000 }).toContain('A new GPU device is ready');
    const [again] = await trainAndWait(page);
    expect(again!.losses).toHaveLength(16);
    await page.close();
  });

  it('resumes a run interrupted by a reload from its last stored epoch, as if uninterrupted', async () => {
    const page = await browser.newPage();
    logConsole(page, 'reload');
    const url = `${server.url}/?hidden=32&limit=512&batchSize=64&epochs=6&activations=tanh,relu&seed=5`;
    await page.goto(url);
    await waitForState(page, 'ready');
    const curves = (runs: Run[]) => runs.map(({ activation, losses, valAccuracy, testAccuracy }) => ({ activation, losses, valAccuracy, testAccuracy }));
    const whole = await trainAndWait(page);
    expect(whole.map((r) => r.valAccuracy.length)).toEqual([6, 6]);

    // Again, reloading once the stack has finished two epochs.
    await page.getByRole('button', { name: 'Train', exact: true }).click();
    // (The finished run is on show until the new one starts: it has all 6 epochs.)
    await page.waitForFunction(() => [2, 3, 4, 5].includes(window.actlab.runs[1]?.valAccuracy.length ?? 0), null, { timeout: 10 * 60_000, polling: 20 });
    await page.reload();
    await waitForState(page, 'ready');
    expect(await page.locator('#resume').textContent()).toMatch(/epoch [1-5] of 6 done; 0 of 2 activations finished/);
    await page.getByRole('button', { name: 'Resume it' }).click();
    await waitForState(page, 'training', 30_000);
    await waitForState(page, 'ready');
    const resumed = await page.evaluate(() => structuredClone(window.actlab.runs)) as Run[];
    // Every epoch ran exactly once (8 steps each) through the reload, bit for bit the same:
    // the compiled step has no autotuning, so a new page computes exactly what the old one did.
    expect(resumed.map((r) => r.losses.length)).toEqual([48, 48]);
    expect(curves(resumed)).toEqual(curves(whole));
    await page.close();
  });

  it('survives a device lost mid-step: reports it, keeps what finished, resumes on a new device as if uninterrupted', async () => {
    const page = await browser.newPage();
    logConsole(page, 'lost');
    await page.goto(`${server.url}/?hidden=32&limit=512&batchSize=64&epochs=4&activations=relu,elu&seed=9`);
    await waitForState(page, 'ready');
    const curves = (runs: Run[]) => runs.map(({ activation, losses, valAccuracy, testAccuracy }) => ({ activation, losses, valAccuracy, testAccuracy }));
    const whole = await trainAndWait(page);

    await page.getByRole('button', { name: 'Train', exact: true }).click();
    // Lose the device while steps are queued, after the first epoch.
    // (The finished run is on show until the new one starts: it has all 32 losses.)
    await page.waitForFunction(() => { const n = window.actlab.runs[0]?.losses.length ?? 0; return n > 9 && n < 32; }, null, { timeout: 10 * 60_000, polling: 10 });
    await page.evaluate(() => window.actlab.loseDevice());
    await expect.poll(() => page.locator('#status').textContent()).toContain('The GPU device was lost (destroyed');
    expect(await page.locator('#status').textContent()).toContain('its last completed epoch is saved');
    const kept = await page.evaluate(() => structuredClone(window.actlab.runs)) as Run[];
    expect(kept[0]!.valAccuracy.length).toBeGreaterThanOrEqual(1); // what finished is still shown
    await page.getByRole('button', { name: 'Resume from the last completed epoch' }).click();
    await waitForState(page, 'training', 30_000);
    await waitForState(page, 'ready');
    const resumed = await page.evaluate(() => structuredClone(window.actlab.runs)) as Run[];
    expect(resumed.map((r) => r.losses.length)).toEqual([32, 32]);
    expect(curves(resumed)).toEqual(curves(whole));
    await page.close();
  });

  it('trains, evaluates, analyses and checkpoints on an adapter without "subgroups", within default limits, with a GPU\'s autotune', async () => {
    const page = await browser.newPage({ acceptDownloads: true });
    logConsole(page, 'no-subgroups');
    const messages: string[] = [];
    page.on('console', (m) => messages.push(m.text()));
    // As Firefox's adapters and some Safari releases: no "subgroups" in the adapter's features,
    // a device request for it refused, and no raised limits. And as a real GPU: the adapter does
    // not say it is a software one, so CubeCL autotunes with its defaults (on a software adapter
    // ActLab narrows them), picking among the candidates a GPU's page would. Every shader module
    // is recorded: none may ask for subgroups. Init scripts do not reach workers, so the trainer
    // runs on the page's thread here (the same host code).
    await page.addInitScript(() => {
      const proto = GPUAdapter.prototype;
      const info = Object.getOwnPropertyDescriptor(proto, 'info')!.get!;
      Object.defineProperty(proto, 'info', {
        get(this: GPUAdapter) {
          const real = info.call(this) as GPUAdapterInfo;
          const fake: Record<string, unknown> = { vendor: 'test', architecture: 'hardware', description: 'a GPU without subgroups', isFallbackAdapter: false };
          return new Proxy(real, { get: (t, k) => (typeof k === 'string' && k in fake ? fake[k] : Reflect.get(t, k, t)) });
        },
      });
      const w = window as unknown as { shaders: { total: number; subgroups: number } };
      w.shaders = { total: 0, subgroups: 0 };
      const create = GPUDevice.prototype.createShaderModule;
      GPUDevice.prototype.createShaderModule = function (this: GPUDevice, desc: GPUShaderModuleDescriptor) {
        w.shaders.total++;
        if (/enable\s+subgroups/.test(desc.code)) w.shaders.subgroups++;
        return create.call(this, desc);
      };
      const features = Object.getOwnPropertyDescriptor(proto, 'features')!.get!;
      Object.defineProperty(proto, 'features', {
        get(this: GPUAdapter) { return new Set([...features.call(this) as Set<string>].filter((f) => f !== 'subgroups')); },
      });
      const request = proto.requestDevice;
      proto.requestDevice = function (this: GPUAdapter, desc: GPUDeviceDescriptor = {}) {
        if ([...(desc.requiredFeatures ?? [])].includes('subgroups' as GPUFeatureName)) {
          return Promise.reject(new TypeError("the adapter does not support the feature 'subgroups'"));
        }
        return request.call(this, { ...desc, requiredLimits: {} });
      };
    });
    await page.goto(`${server.url}/?${SMALL}&thread=page`);
    await waitForState(page, 'ready');
    expect(await page.evaluate(async () => (await navigator.gpu.requestAdapter())!.features.has('subgroups'))).toBe(false);
    const runs = await trainAndWait(page);
    for (const r of runs) {
      expect(r.losses).toHaveLength(8);
      expect(r.testAccuracy).toBeGreaterThan(0.3);
    }
    expect(await page.locator('#samples figure').count()).toBe(16);
    await page.getByRole('button', { name: 'Analyse' }).click();
    await waitForState(page, 'training', 30_000);
    await waitForState(page, 'ready');
    expect(await page.locator('#analyses canvas').count()).toBe(6); // one hidden layer: 2 + 1 + 2 + 1
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Save checkpoint' }).click()]);
    expect(download.suggestedFilename()).toMatch(/^actlab-tanh-seed7-epoch1\.actlab$/);
    expect(messages.some((m) => m.includes('no "subgroups" feature'))).toBe(true);
    // Not taken for a software adapter: no CPU notice, CubeCL's default autotune.
    expect(await page.locator('#notice').isVisible()).toBe(false);
    const shaders = await page.evaluate(() => (window as unknown as { shaders: { total: number; subgroups: number } }).shaders);
    console.log(`no-subgroups: ${shaders.total} shader modules, ${shaders.subgroups} asking for subgroups`);
    expect(shaders.total).toBeGreaterThan(10);
    expect(shaders.subgroups).toBe(0);
    await page.close();
  });

  it('trains on one core where the CPU workers cannot start, and says so', async () => {
    const page = await browser.newPage();
    logConsole(page, 'no-pool');
    // As a browser whose workers cannot start workers: here the trainer runs on the page's
    // thread, where an init script reaches `Worker`.
    await page.addInitScript(() => {
      const Real = Worker;
      globalThis.Worker = class extends Real {
        constructor(url: string | URL, opts?: WorkerOptions) {
          if (String(url).includes('cpu-worker')) throw new DOMException('workers cannot start here', 'SecurityError');
          super(url, opts);
        }
      };
    });
    await page.goto(`${server.url}/?${SMALL}&device=cpu&thread=page`);
    await waitForState(page, 'ready');
    expect(await page.evaluate(() => window.actlab.device)).toBe('cpu');
    const runs = await trainAndWait(page);
    for (const r of runs) {
      expect(r.losses).toHaveLength(8);
      expect(r.testAccuracy).toBeGreaterThan(0.3);
    }
    expect(await page.locator('#notice').textContent()).toContain('The CPU workers could not start (workers cannot start here): training on one core.');
    await page.close();
  });

  it('explains a WebGPU that is there but gives no device, and trains on the CPU instead', async () => {
    const page = await browser.newPage();
    logConsole(page, 'no-adapter');
    // As a browser whose GPU is blocklisted: navigator.gpu exists, requestAdapter() gives null.
    // The trainer runs on the page's thread here, where an init script reaches WebGPU.
    await page.addInitScript(() => { GPU.prototype.requestAdapter = async () => null; });
    await page.goto(`${server.url}/?${SMALL}&thread=page`);
    await expect.poll(() => page.locator('#notice').textContent(), { timeout: 5 * 60_000 }).toContain('WebGPU is present in this browser but could not start');
    expect(await page.locator('#status').textContent()).toMatch(/^WebGPU could not start: \S/);
    expect(await page.getByRole('button', { name: 'Train', exact: true }).isDisabled()).toBe(true);
    await page.getByRole('button', { name: 'Train on the CPU' }).click();
    await waitForState(page, 'ready');
    expect(await page.evaluate(() => window.actlab.device)).toBe('cpu');
    const runs = await trainAndWait(page);
    for (const r of runs) expect(r.testAccuracy).toBeGreaterThan(0.3);
    await page.close();
  });

  it('marks an activation whose loss blows up as diverged, and trains the others on', async () => {
    const page = await browser.newPage();
    logConsole(page, 'diverge');
    // SGD at learning rate 10 with momentum: ReLU's unbounded units overflow float32 within a
    // few steps; Tanh's saturate, so its loss stays finite.
    await page.goto(`${server.url}/?hidden=64,64&limit=512&batchSize=64&epochs=2&activations=tanh,relu&seed=1&learningRate=10`);
    await waitForState(page, 'ready');
    const runs = await trainAndWait(page) as (Run & { divergedAt: number | null })[];
    console.log('divergence', JSON.stringify(runs.map((r) => ({ a: r.activation, divergedAt: r.divergedAt, losses: r.losses.length }))));
    const relu = runs.find((r) => r.activation === 'relu')!;
    const tanh = runs.find((r) => r.activation === 'tanh')!;
    expect(relu.divergedAt).toBeGreaterThan(0);
    expect(relu.losses).toHaveLength(relu.divergedAt!);
    expect(relu.losses.slice(0, -1).every(Number.isFinite)).toBe(true);
    expect(tanh.divergedAt).toBeNull();
    expect(tanh.losses).toHaveLength(16);
    expect(await page.locator('#results tbody tr', { hasText: 'relu' }).textContent()).toContain(`diverged at step ${relu.divergedAt}`);
    await page.close();
  });

  it('keeps training when the browser refuses to store, and says results will not survive a reload', async () => {
    const page = await browser.newPage();
    logConsole(page, 'quota');
    // As a full disk or a private window: every IndexedDB write fails (init scripts do not
    // reach workers, so the trainer runs on the page's thread here).
    await page.addInitScript(() => {
      IDBObjectStore.prototype.put = () => { throw new DOMException('The quota has been exceeded.', 'QuotaExceededError'); };
    });
    const statuses: string[] = [];
    await page.exposeFunction('recordStatus', (s: string) => statuses.push(s));
    await page.addInitScript(() => {
      new MutationObserver(() => (window as unknown as { recordStatus(s: string): void }).recordStatus(document.getElementById('status')?.textContent ?? ''))
        .observe(document, { subtree: true, childList: true, characterData: true });
    });
    await page.goto(`${server.url}/?${SMALL}&thread=page`);
    await waitForState(page, 'ready');
    const runs = await trainAndWait(page);
    expect(runs.map((r) => r.losses.length)).toEqual([8, 8]);
    expect(await page.locator('#notice').textContent()).toMatch(/refused to store the run \(QuotaExceededError: .*\): its results will not survive a reload/);
    expect(await page.locator('#notice').isVisible()).toBe(true);
    await page.close();
  });

  it('boots where the browser language is not a valid tag, and says why when a module cannot load', async () => {
    // WebKitGTK in a C locale reports navigator.language "C": uPlot's module would throw while loading.
    const page = await browser.newPage();
    logConsole(page, 'C locale');
    await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'language', { get: () => 'C' }));
    await page.goto(`${server.url}/?${SMALL}`);
    await waitForState(page, 'ready', 60_000);
    expect(await page.evaluate(() => navigator.language)).toBe('C');
    expect(await page.locator('#status').textContent()).not.toMatch(/Loading/);
    await page.close();
    // An engine where formatting throws for every locale: the page's module fails while loading,
    // and the page says so instead of "Loading…" forever.
    const broken = await browser.newPage();
    await broken.addInitScript(() => {
      (Intl as unknown as Record<string, unknown>).NumberFormat = function () { throw new RangeError('no number formatting here'); };
    });
    await broken.goto(`${server.url}/?${SMALL}`);
    await broken.waitForFunction(() => /could not start/.test(document.getElementById('status')?.textContent ?? ''), null, { timeout: 30_000 });
    expect(await broken.locator('#status').textContent()).toMatch(/^ActLab could not start in this browser: RangeError: no number formatting here\. Reload/);
    await broken.close();
  });

  it('fits a phone-width screen and passes an accessibility check', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    await page.goto(`${server.url}/?${SMALL}`);
    await waitForState(page, 'ready');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: `${ARTIFACTS}/phone.png`, fullPage: true });

    const axe = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
    await page.addScriptTag({ path: axe });
    const violations = await page.evaluate(async () => {
      const r = await (window as unknown as { axe: { run: (o: object) => Promise<{ violations: { id: string; help: string; nodes: unknown[] }[] }> } })
        .axe.run({ runOnly: ['wcag2a', 'wcag2aa', 'best-practice'] });
      return r.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.length})`);
    });
    expect(violations).toEqual([]);

    // Keyboard: Tab reaches the first activation checkbox and Space toggles it.
    const before = await page.locator('input[name=activations]').first().isChecked();
    await page.locator('input[name=activations]').first().focus();
    await page.keyboard.press('Space');
    expect(await page.locator('input[name=activations]').first().isChecked()).toBe(!before);

    // The tutorial's protocol in one click: all six, 50 epochs, patience 7, all the data.
    await page.locator('#preset-tutorial').click();
    expect(await page.locator('#epochs').inputValue()).toBe('50');
    expect(await page.locator('#patience').inputValue()).toBe('7');
    expect(await page.locator('#limit').inputValue()).toBe('50000');
    expect(await page.locator('input[name=activations]:checked').count()).toBe(6);
    expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
    await page.close();
  });

  it('reports a truncated or corrupt data file instead of crashing', async () => {
    for (const [dir, message] of [
      ['/truncated/', /train-labels-idx1-ubyte\.gz(: truncated| is not a valid gzip file)/],
      ['/badmagic/', /t10k-labels-idx1-ubyte\.gz.*magic/i],
    ] as const) {
      const page = await browser.newPage();
      await page.goto(`${server.url}/?data=${dir}`);
      await waitForState(page, 'error', 5 * 60_000);
      await expect.poll(() => page.locator('#status').textContent()).toMatch(message);
      expect(await page.locator('#status').getAttribute('class')).toContain('error');
      await page.close();
    }
  });

  it('offers the CPU on a software adapter and without WebGPU, trains, analyses and checkpoints there like the GPU, and the GPU goes on from its checkpoint', async () => {
    // The same run on the GPU first: the CPU must give the same curves (same keys, same batches).
    const gpuPage = await browser.newPage();
    logConsole(gpuPage, 'cpu-reference');
    const modules: string[] = [];
    gpuPage.on('request', (r) => { if (r.url().endsWith('.wasm')) modules.push(r.url()); });
    await gpuPage.goto(`${server.url}/?${SMALL}`);
    await waitForState(gpuPage, 'ready');
    expect(await gpuPage.evaluate(() => window.actlab.device)).toBe('gpu');
    // SwiftShader is a software adapter: the page proposes the CPU module.
    await expect.poll(() => gpuPage.locator('#notice').textContent()).toContain('software one');
    const onGpu = await trainAndWait(gpuPage);
    // The GPU page never downloads the CPU module...
    expect(modules.some((u) => u.includes('actlab_cpu'))).toBe(false);
    // ...until the user takes the offer: the trainer switches to the CPU and trains there.
    await gpuPage.getByRole('button', { name: 'Train on the CPU instead' }).click();
    await expect.poll(() => gpuPage.evaluate(() => window.actlab.device)).toBe('cpu');
    await waitForState(gpuPage, 'ready');
    expect(modules.filter((u) => /actlab_cpu(_relaxed)?_bg/.test(u))).toHaveLength(1);
    const switched = await trainAndWait(gpuPage);
    switched.forEach((r, i) => r.losses.forEach((l, j) => expect(Math.abs(l - onGpu[i]!.losses[j]!) / onGpu[i]!.losses[j]!).toBeLessThan(1e-3)));
    await gpuPage.close();

    const page = await browser.newPage({ acceptDownloads: true });
    logConsole(page, 'cpu');
    page.on('request', (r) => { if (r.url().endsWith('.wasm')) modules.push(r.url()); });
    modules.length = 0;
    await page.addInitScript(() => { delete (Navigator.prototype as { gpu?: unknown }).gpu; });
    await page.goto(`${server.url}/?${SMALL}`);
    await expect.poll(() => page.locator('#notice').isVisible()).toBe(true);
    expect(await page.locator('#notice').textContent()).toContain('does not offer WebGPU');
    expect(await page.getByRole('button', { name: 'Train', exact: true }).isDisabled()).toBe(true);
    await page.getByRole('button', { name: 'Train on the CPU' }).click();
    await waitForState(page, 'ready');
    expect(await page.evaluate(() => window.actlab.device)).toBe('cpu');
    expect(await page.evaluate(() => window.actlab.thread)).toBe('worker');
    expect(await page.locator('#status').textContent()).toContain('Ready on the CPU');
    // One worker per core trains the run's models (two here: two activations, two cores).
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    expect(await page.evaluate(() => window.actlab.workers)).toBe(Math.min(6, cores) >= 2 ? Math.min(6, cores) : 1);
    // Only the CPU module was downloaded, in the build the page says it runs (Chromium has
    // relaxed SIMD: the build with fused multiply-adds).
    const build = await page.evaluate(() => window.actlab.cpuBuild);
    expect(modules.map((u) => u.split('/').pop()!.replace(/-[\w-]+\.wasm$/, '.wasm'))).toEqual([build === 'relaxed' ? 'actlab_cpu_relaxed_bg.wasm' : 'actlab_cpu_bg.wasm']);
    expect(await page.locator('#status').textContent()).toContain(build === 'relaxed' ? 'fused multiply-add' : 'on the CPU (SIMD)');
    const onCpu = await trainAndWait(page);
    expect(onCpu.map((r) => r.activation)).toEqual(onGpu.map((r) => r.activation));
    onCpu.forEach((r, i) => {
      const g = onGpu[i]!;
      expect(r.losses).toHaveLength(8);
      r.losses.forEach((l, j) => expect(Math.abs(l - g.losses[j]!) / g.losses[j]!).toBeLessThan(1e-3));
      expect(r.testAccuracy).toBeGreaterThan(0.3);
    });
    expect(await page.locator('#samples figure').count()).toBe(16);
    await page.getByRole('button', { name: 'Analyse' }).click();
    await waitForState(page, 'training', 30_000);
    await waitForState(page, 'ready');
    expect(await page.locator('#analyses canvas').count()).toBe(6);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Save checkpoint' }).click()]);
    expect(download.suggestedFilename()).toMatch(/^actlab-tanh-seed7-epoch1\.actlab$/);
    const file = join(mkdtempSync(join(tmpdir(), 'actlab-cpu-ckpt-')), download.suggestedFilename());
    await download.saveAs(file);
    // The choice is remembered: after a reload the CPU starts without asking, and the page says why.
    await page.reload();
    await waitForState(page, 'ready');
    expect(await page.evaluate(() => window.actlab.device)).toBe('cpu');
    expect(await page.locator('#notice').textContent()).toContain('trains on the CPU here, as you chose before');
    expect(await page.evaluate(() => window.actlab.runs.length)).toBe(2);
    await page.close();

    // The CPU's checkpoint goes on on the GPU: same file format, same state.
    const next = await browser.newPage();
    logConsole(next, 'cpu-to-gpu');
    await next.goto(`${server.url}/?${SMALL.replace('epochs=1', 'epochs=2')}`);
    await waitForState(next, 'ready');
    expect(await next.evaluate(() => window.actlab.device)).toBe('gpu');
    await next.setInputFiles('#load-checkpoint', file);
    await waitForState(next, 'training', 30_000);
    await waitForState(next, 'ready');
    const [continued] = await next.evaluate(() => structuredClone(window.actlab.runs)) as Run[];
    const tanh = onCpu.find((r) => r.activation === 'tanh')!;
    expect(continued!.losses).toHaveLength(16);
    expect(continued!.losses.slice(0, 8)).toEqual(tanh.losses);
    expect(continued!.losses.slice(8).every(Number.isFinite)).toBe(true);
    expect(continued!.valAccuracy[1]).toBeGreaterThan(0.3);
    await next.close();
  });
});
