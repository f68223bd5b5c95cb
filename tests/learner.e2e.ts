// The page as a learner walks it: the deep ReLU preset's dead neurons at initialisation (the
// numbers shown, held to the tutorial command's), three seeds of two activations trained in one
// stack (mean and band, mean ± spread, seeds above chance), every analysis of the trained run,
// "Continue in JAX" and the JSON export, then a reload that finds it all again. Screenshots of
// each section at desktop and phone width go to test-results/sections/ (docs/screenshots/ is
// copied from there).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Download, Page } from 'playwright-core';
import { ARTIFACTS, DATA_DIR, launch, logConsole, serve } from './browser.js';

const DEEP = '256,256,256,256,256,128,128,128,128,128';
const SECTIONS = ['controls', 'charts-title', 'results-title', 'saved-title', 'analyses-title', 'samples-title'];

let browser: Browser;
let server: Awaited<ReturnType<typeof serve>>;

/** The tutorial command's dead-neuron counts of an untrained network (the Rust CLI). */
function cliDeadNeurons(hidden: string): number[] {
  const args = ['--dead-neurons', '--hidden', hidden, '--activations', 'relu', '--init', 'tutorial', '--prng', 'legacy',
    '--seed', '42', '--epochs', '0', '--val-size', '0', '--json'];
  const target = process.env.CARGO_TARGET_DIR ?? join(process.env.HOME ?? '', '.cache/actlab/target');
  const bin = ['release', 'debug'].map((p) => join(target, p, 'examples', 'tutorial')).find(existsSync);
  const out = bin
    ? execFileSync(bin, args, { encoding: 'utf8', env: { ...process.env, FASHION_MNIST_DIR: DATA_DIR } })
    : execFileSync('cargo', ['run', '-q', '-p', 'actlab', '--example', 'tutorial', '--', ...args], { encoding: 'utf8' });
  return (JSON.parse(out.trim().split('\n').pop()!) as { dead_neurons: number[] }).dead_neurons;
}

async function waitForState(page: Page, state: string, timeout = 10 * 60_000): Promise<void> {
  await page.waitForFunction((s) => window.actlab?.state === s, state, { timeout, polling: 300 });
}

async function shoot(page: Page, width: string): Promise<void> {
  const dir = join(ARTIFACTS, 'sections');
  mkdirSync(dir, { recursive: true });
  for (const id of SECTIONS) {
    const el = page.locator(`#${id}`);
    const box = id === 'controls' ? el : el.locator('xpath=ancestor::section[1]');
    await box.screenshot({ path: join(dir, `${id.replace('-title', '')}-${width}.png`) });
  }
}

beforeAll(async () => {
  server = await serve({ '/': 'dist', '/data/fashion-mnist/': DATA_DIR });
  browser = await launch();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('a learner', () => {
  it('walks the tutorial: the deep preset, three seeds, every analysis, the exports and a reload', async () => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 1400 }, acceptDownloads: true });
    const page = await context.newPage();
    logConsole(page, 'learner');
    await page.goto(`${server.url}/`);
    await waitForState(page, 'ready');
    // The defaults are the notebook's: its init, its PRNG, seed 42.
    expect(await page.locator('#init').inputValue()).toBe('tutorial');
    expect(await page.locator('#prng').inputValue()).toBe('legacy');
    expect(await page.locator('#seed').inputValue()).toBe('42');

    // The deep ReLU network at initialisation: the notebook's dead neurons, as the CLI counts them.
    await page.getByRole('button', { name: 'Deep ReLU network' }).click();
    expect(await page.locator('#hidden').inputValue()).toBe(DEEP.split(',').join(', '));
    await page.getByRole('button', { name: 'Analyse' }).click();
    await page.waitForFunction(() => window.actlab.analyses?.dead.relu !== undefined, null, { timeout: 10 * 60_000, polling: 500 });
    await waitForState(page, 'ready');
    const shown = await page.evaluate(() => window.actlab.analyses!);
    const cli = cliDeadNeurons(DEEP);
    console.log(`deep ReLU network at init: page ${JSON.stringify(shown.dead.relu!.init)}, CLI ${JSON.stringify(cli)} over ${shown.deadImages} images`);
    expect(shown.deadImages).toBe(60000);
    expect(shown.dead.relu!.init).toEqual(cli);
    expect(cli).toEqual([0, 0, 1, 19, 75, 53, 71, 57, 64, 69]);
    // ...and the table says so, with a bar per count.
    const row = page.locator('#dead tbody tr', { hasText: 'relu' });
    expect(await row.locator('td').nth(3).locator('.counts').textContent()).toMatch(/^19 \(7\.4%\) → not trained$/);
    expect(await row.locator('.bar').count()).toBe(10);

    // Three seeds of sigmoid and ReLU on a small network: one stack of six models.
    await page.goto(`${server.url}/?hidden=32&limit=1024&batchSize=64&epochs=2&activations=sigmoid,relu&seeds=3`);
    await waitForState(page, 'ready');
    await page.getByRole('button', { name: 'Train', exact: true }).click();
    await waitForState(page, 'training', 30_000);
    await waitForState(page, 'ready');
    const runs = await page.evaluate(() => structuredClone(window.actlab.runs));
    expect(runs.map((r) => r.activation)).toEqual(['sigmoid@42', 'sigmoid@43', 'sigmoid@44', 'relu@42', 'relu@43', 'relu@44']);
    const finals = runs.map((r) => r.losses.at(-1));
    expect(new Set(finals).size).toBe(6); // six models, six runs
    // One line per activation (the seeds' mean) in a band from the lowest to the highest seed.
    const points = await page.evaluate(() => window.actlab.chartPoints());
    expect(Object.keys(points.loss)).toEqual(['sigmoid', 'sigmoid (lowest seed)', 'sigmoid (highest seed)', 'relu', 'relu (lowest seed)', 'relu (highest seed)']);
    expect(points.accuracy['relu (training)']).toBe(2);
    const relu = page.locator('#results tbody tr', { hasText: 'relu' }).locator('td');
    expect(await relu.nth(3).textContent()).toMatch(/^\d+\.\d\d% ± \d+\.\d\d · [0-3] of 3 seeds above chance$/);
    expect(await relu.nth(5).textContent()).toBe('88.65%');
    expect(await relu.nth(7).textContent()).toBe('88.62%');

    // Every analysis of the trained run: each activation's trained model, marked as such.
    await page.getByRole('button', { name: 'Analyse' }).click();
    await page.waitForFunction(() => window.actlab.analyses?.trained.sigmoid === true, null, { timeout: 10 * 60_000, polling: 500 });
    await waitForState(page, 'ready');
    const a = await page.evaluate(() => window.actlab.analyses!);
    for (const id of ['fn-chart', 'dfn-chart', 'grad-mean-chart', 'grad-hist-1', 'grad-hist-2', 'act-hist-1']) {
      expect(Object.values(a.charts[id] ?? {}).every((n) => n > 0), id).toBe(true);
    }
    expect(Object.keys(a.charts['act-hist-1']!)).toEqual(['sigmoid (trained)', 'relu (trained)']);
    expect(a.dead.relu!.trained).toHaveLength(1);
    // Sigmoid's gradient shrinks towards the first layer more than ReLU's.
    expect(a.gradMeans.sigmoid![0]! / a.gradMeans.sigmoid!.at(-1)!).toBeLessThan(a.gradMeans.relu![0]! / a.gradMeans.relu!.at(-1)!);

    // The samples: trained and at initialisation.
    expect(await page.locator('#samples figure').count()).toBe(16);
    expect(await page.locator('#samples figcaption').first().textContent()).toMatch(/trained: .+at init: /);

    // Continue in JAX: the parameters and a script that names the formula.
    await page.locator('#sample-model').selectOption('relu@42');
    // Two downloads from one click: collected as they come (two waitForEvent would both see the first).
    const files: Download[] = [];
    const collect = (d: Download) => files.push(d);
    page.on('download', collect);
    await page.getByRole('button', { name: 'Continue in JAX' }).click();
    await expect.poll(() => files.length, { timeout: 30_000 }).toBe(2);
    page.off('download', collect);
    const names = files.map((f) => f.suggestedFilename()).sort();
    expect(names).toEqual(['actlab-relu-seed42-continue.py', 'actlab-relu-seed42-params.msgpack']);
    const py = files.find((f) => f.suggestedFilename().endsWith('.py'))!;
    const script = readFileSync((await py.path())!, 'utf8');
    expect(script).toContain('FORMULA = "where(x > 0, x, 0)"');
    expect(script).toContain('jax.config.update("jax_threefry_partitionable", False)');
    // The JSON export has the analyses.
    const [json] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download results (JSON)' }).click()]);
    const exported = JSON.parse(readFileSync((await json.path())!, 'utf8')) as { analyses: { dead: unknown[]; config: { seeds: number } } };
    expect(exported.analyses.dead).toHaveLength(2);
    expect(exported.analyses.config.seeds).toBe(3);
    await shoot(page, 'desktop');

    // A reload finds the run, and its analyses use the trained models stored with it.
    await page.reload();
    await waitForState(page, 'ready');
    expect((await page.evaluate(() => window.actlab.runs)).map((r) => r.losses.at(-1))).toEqual(finals);
    await page.getByRole('button', { name: 'Analyse' }).click();
    await page.waitForFunction(() => window.actlab.analyses?.trained.relu === true, null, { timeout: 10 * 60_000, polling: 500 });
    await waitForState(page, 'ready');
    expect((await page.evaluate(() => window.actlab.analyses!)).dead.relu!.trained).toEqual(a.dead.relu!.trained);

    // Phone width: every section readable, no sideways scroll of the page.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300); // the charts follow their containers' width
    const wide = await page.evaluate(() => [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > 391 && !e.parentElement?.closest('.table-wrap'))
      .map((e) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}.${e.className}: ${Math.round(e.getBoundingClientRect().right)}`)
      .slice(0, 10));
    expect(wide).toEqual([]);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shoot(page, 'phone');
    await context.close();
  });
});
