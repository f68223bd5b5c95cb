// The npm package as a user gets it: `npm pack`, installed into a fresh folder's node_modules,
// the README's quickstart (examples/quickstart) and its CPU example (examples/cpu) type-checked
// against the package's types, built with Vite, and run in headless Chromium against the real
// FashionMNIST: on WebGPU, and on the CPU module with WebGPU removed.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Browser } from 'playwright-core';
import { ARTIFACTS, DATA_DIR, launch, logConsole, serve } from './browser.js';
import { installPackage, type Installed } from './packaged.js';

let browser: Browser;
let server: Awaited<ReturnType<typeof serve>>;
let installed: Installed;

beforeAll(async () => {
  // The README's examples, and the fuzz, soak, activations and freed pages (tests/fixtures):
  // bad inputs, a long run, the activation spec and used-up objects through the installed package.
  installed = await installPackage({
    quickstart: 'examples/quickstart', cpu: 'examples/cpu',
    ...Object.fromEntries(['fuzz', 'soak', 'activations', 'freed'].map((n) => [n, `tests/fixtures/${n}`])),
  });
  const paths = installed.files;
  expect(paths).toEqual(expect.arrayContaining(['pkg/actlab_bg.wasm', 'pkg/cpu/actlab_cpu_bg.wasm', 'pkg/cpu/actlab_cpu_relaxed_bg.wasm', 'pkg/sdk/index.js', 'pkg/sdk/index.d.ts', 'package.json']));
  expect(paths.filter((p) => p.endsWith('.test.js') || p.startsWith('crate/') || p.startsWith('web/'))).toEqual([]);
  const { sites } = installed;
  server = await serve({ '/': sites.quickstart!, '/cpu/': sites.cpu!, '/fuzz/': sites.fuzz!, '/soak/': sites.soak!, '/activations/': sites.activations!, '/freed/': sites.freed!, '/data/fashion-mnist/': DATA_DIR });
  browser = await launch();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

it('the README examples type-check against the installed package', () => {
  const tsc = resolve('node_modules/.bin/tsc');
  // The options of Vite's TypeScript template (skipLibCheck: wasm-bindgen's .d.ts names
  // Symbol.dispose, which needs lib esnext.disposable). Fails with tsc's diagnostics.
  for (const dir of [installed.sources.quickstart!, installed.sources.cpu!]) {
    try {
      execFileSync(tsc, ['--noEmit', '--strict', '--skipLibCheck', '--target', 'es2022', '--module', 'esnext',
        '--moduleResolution', 'bundler', '--lib', 'es2022,dom,dom.iterable', 'main.ts'], { cwd: dir, encoding: 'utf8' });
    } catch (e) {
      throw new Error(`tsc (${dir}): ${(e as { stdout?: string }).stdout ?? String(e)}`);
    }
  }
});

it('the README shows the examples verbatim', () => {
  for (const example of ['quickstart', 'cpu']) {
    const code = readFileSync(`examples/${example}/main.ts`, 'utf8').trim();
    expect(readFileSync('README.md', 'utf8')).toContain(code);
  }
});

it('the CPU example trains and evaluates in a browser without WebGPU, downloading only the CPU module', async () => {
  const page = await browser.newPage();
  page.setDefaultTimeout(5 * 60_000);
  logConsole(page, 'cpu example');
  await page.addInitScript(() => { delete (Navigator.prototype as { gpu?: unknown }).gpu; });
  const modules: string[] = [];
  page.on('request', (r) => { if (r.url().endsWith('.wasm')) modules.push(r.url().split('/').pop()!); });
  await page.goto(`${server.url}/cpu/`);
  await page.waitForFunction(() => /accuracy/.test(document.querySelector('#out')?.textContent ?? ''), null, { polling: 500 });
  const text = (await page.locator('#out').textContent())!;
  console.log(`cpu example: ${text}`);
  expect(text).toContain('WebGPU absent');
  expect(Number(/accuracy ([\d.]+)%/.exec(text)?.[1])).toBeGreaterThan(30);
  expect(modules).toHaveLength(1);
  // The build for this engine: relaxed SIMD where it validates (Chromium), else the plain one.
  const relaxed = await page.evaluate(() => WebAssembly.validate(Uint8Array.from(atob('AGFzbQEAAAABBQFgAAF9AwIBAAcFAQFmAAAKQAE+AP0MAAiAPwAIgD8ACIA/AAiAP/0MAAiAPwAIgD8ACIA/AAiAP/0MABCAvwAQgL8AEIC/ABCAv/2FAv0fAAs='), (c) => c.charCodeAt(0))));
  expect(modules[0]).toMatch(relaxed ? /^actlab_cpu_relaxed_bg/ : /^actlab_cpu_bg/);
  await page.close();
});

it('the quickstart trains and evaluates in the browser', async () => {
  const page = await browser.newPage();
  // The quickstart queues a whole epoch before its first read, so the page's main thread is
  // busy for a long time on SwiftShader: no 30 s default timeouts.
  page.setDefaultTimeout(10 * 60_000);
  logConsole(page, 'quickstart');
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(server.url);
  let text = '';
  for (const end = Date.now() + 10 * 60_000; !/accuracy/.test(text) && Date.now() < end;) {
    expect(errors).toEqual([]);
    await page.waitForTimeout(1000);
    text = (await page.locator('#out').textContent()) ?? '';
  }
  console.log(`quickstart: ${text}`);
  expect(Number(/accuracy ([\d.]+)%/.exec(text)?.[1])).toBeGreaterThan(30); // chance is 10%
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: `${ARTIFACTS}/quickstart.png` });
  await page.close();
});

it('refuses a few hundred bad inputs with clear errors, never a trap, then trains with the same module', async () => {
  const tsc = resolve('node_modules/.bin/tsc');
  execFileSync(tsc, ['--noEmit', '--strict', '--skipLibCheck', '--target', 'es2022', '--module', 'esnext',
    '--moduleResolution', 'bundler', '--lib', 'es2022,dom,dom.iterable', 'main.ts'], { cwd: installed.sources.fuzz!, encoding: 'utf8' });
  const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
  console.log(`browser fuzz seed ${seed} (replay: FUZZ_SEED=${seed} npx vitest run --project e2e tests/package.e2e.ts)`);
  if (process.env.FUZZ_DISCOVER) {
    // Every trap of this seed, one page load each (a trap kills the module instance).
    const traps: string[] = [];
    for (let i = 0; i < 40; i++) {
      const p = await browser.newPage();
      await p.goto(`${server.url}/fuzz/?seed=${seed}&skip=${encodeURIComponent(traps.join('\n'))}`);
      await p.waitForFunction(() => 'fuzzReport' in window, null, { polling: 200, timeout: 10 * 60_000 });
      const trap = await p.evaluate(() => (window as unknown as { fuzzReport: { trap: string | null } }).fuzzReport.trap);
      await p.close();
      if (!trap) break;
      traps.push(trap.split(': ').slice(0, 2).join(': '));
      console.log(`trap: ${trap}`);
    }
  }
  const page = await browser.newPage();
  page.setDefaultTimeout(10 * 60_000);
  logConsole(page, 'fuzz');
  await page.goto(`${server.url}/fuzz/?seed=${seed}`);
  await page.waitForFunction(() => 'fuzzReport' in window, null, { polling: 500 });
  const { report, error } = await page.evaluate(() => {
    const w = window as unknown as { fuzzReport: unknown; fuzzError?: string };
    return { report: w.fuzzReport as { tried: Record<string, number>; threw: Record<string, number>; accepted: string[]; notErrors: string[]; trap: string | null; losses: number[]; stackLosses: number[] }, error: w.fuzzError };
  });
  const total = Object.values(report.tried).reduce((a, b) => a + b, 0);
  console.log(`browser fuzz: ${total} cases; tried ${JSON.stringify(report.tried)}; threw ${JSON.stringify(report.threw)}`);
  expect(report.trap).toBeNull();
  expect(error).toBeUndefined();
  expect(report.notErrors).toEqual([]);
  expect(report.accepted).toEqual([]);
  expect(total).toBeGreaterThan(300);
  // The same module instance then trains normally: finite losses that go down.
  for (const losses of [report.losses, report.stackLosses]) {
    expect(losses).toHaveLength(8);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.at(-1)!).toBeLessThan(losses[0]!);
  }
  await page.close();
});

it('computes every activation of the spec as JAX does: the Burn path on WebGPU, the compiled stack and the CPU module', async () => {
  // ../shared/spec/jax_activations.json, or ACTLAB_ACTIVATIONS_SPEC: any file of its schema.
  const file = process.env.ACTLAB_ACTIVATIONS_SPEC ?? resolve('../shared/spec/jax_activations.json');
  interface Entry { name: string; formula: string; params: Record<string, number>; f: number[]; df: number[] }
  const spec = JSON.parse(readFileSync(file, 'utf8')) as { x: number[]; tolerance_f32: { atol: number; rtol: number }; activations: Entry[] };
  const page = await browser.newPage();
  page.setDefaultTimeout(10 * 60_000);
  logConsole(page, 'activations');
  await page.goto(`${server.url}/activations/`);
  await page.waitForFunction(() => document.querySelector('#out')?.textContent === 'ready', null, { polling: 200 });
  const entries = spec.activations.map(({ name, formula, params }) => ({ name, formula, params }));
  type Values = { f: number[]; df: number[] };
  const got = await page.evaluate(([x, e]) => (window as unknown as { compute: (x: number[], e: unknown) => Promise<Record<string, Values[]>> }).compute(x, e), [spec.x, entries] as const);
  const { atol, rtol } = spec.tolerance_f32;
  const bad: string[] = [];
  for (const [path, values] of Object.entries(got)) {
    spec.activations.forEach((e, k) => {
      for (const which of ['f', 'df'] as const) {
        e[which].forEach((want, i) => {
          const v = values[k]![which][i]!;
          if (!(Math.abs(v - want) <= atol + rtol * Math.abs(want))) bad.push(`${path} ${e.name} ${which}(${spec.x[i]}) = ${v}, JAX ${want}`);
        });
      }
    });
  }
  console.log(`activations in Chromium: ${spec.activations.length} formulas x ${spec.x.length} points on ${Object.keys(got).join(', ')}; ${bad.length} out of tolerance`);
  expect(bad.slice(0, 20)).toEqual([]);
  await page.close();
});

it('says what happened when a freed or used-up object is used: every class, on both modules, no trap, and training goes on', async () => {
  const page = await browser.newPage();
  page.setDefaultTimeout(10 * 60_000);
  logConsole(page, 'freed');
  await page.goto(`${server.url}/freed/`);
  await page.waitForFunction(() => 'freedReport' in window, null, { polling: 500 });
  const { report, error } = await page.evaluate(() => {
    const w = window as unknown as { freedReport: { checked: string[]; wrong: string[]; trap: string | null; losses: number[] }; freedError?: string };
    return { report: w.freedReport, error: w.freedError };
  });
  console.log(`used-up objects: ${report.checked.length} uses checked, e.g. ${report.checked.slice(0, 4).join('; ')}`);
  expect(error).toBeUndefined();
  expect(report.trap).toBeNull();
  expect(report.wrong).toEqual([]);
  const classes = new Set(report.checked.map((c) => c.split(/[.(]/)[0]));
  expect(report.checked.length).toBeGreaterThan(80);
  expect(classes.size).toBeGreaterThan(15);
  // Both modules trained afterwards: finite losses that fall.
  expect(report.losses.length).toBeGreaterThan(20);
  expect(report.losses.every(Number.isFinite)).toBe(true);
  await page.close();
});

it('keeps memory flat over a long run: wasm memory, JS heap and GPU buffers, also when nothing is freed', async () => {
  const steps = Number(process.env.SOAK_STEPS ?? 3000);
  const page = await browser.newPage();
  page.setDefaultTimeout(30 * 60_000);
  logConsole(page, 'soak');
  await page.goto(`${server.url}/soak/?steps=${steps}`);
  await page.waitForFunction(() => 'soak' in window || 'soakError' in window, null, { polling: 1000 });
  type Sample = { step: number; wasm: number; heap: number; buffers: number };
  const { soak, error } = await page.evaluate(() => {
    const w = window as unknown as { soak?: { stack: Sample[]; freed: Sample[]; unfreed: Sample[] }; soakError?: string };
    return { soak: w.soak, error: w.soakError };
  });
  expect(error).toBeUndefined();
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  const show = (s: Sample) => `step ${s.step}: wasm ${mib(s.wasm)}, JS heap ${mib(s.heap)}, ${s.buffers} GPU buffers`;
  for (const [name, samples] of Object.entries(soak!)) {
    console.log(`soak (${name}): ${show(samples[1] ?? samples[0]!)} → ${show(samples.at(-1)!)} (${samples.length} samples)`);
  }
  // After warm-up (the first samples), nothing grows with the steps.
  const warm = soak!.stack[Math.min(2, soak!.stack.length - 1)]!;
  const end = soak!.stack.at(-1)!;
  expect(end.step).toBe(Math.ceil(steps / 8) * 8);
  expect(end.buffers).toBeLessThanOrEqual(warm.buffers);
  expect(end.wasm - warm.wasm).toBeLessThanOrEqual(4 * 2 ** 20);
  expect(end.heap - warm.heap).toBeLessThanOrEqual(8 * 2 ** 20);
  // The Burn path, freed by hand and then never freed (the FinalizationRegistry frees the
  // dropped objects): after warm-up the GPU buffers and the wasm memory stop growing.
  // Dropped objects wait for a collection, whose timing is the engine's: the never-freed run is
  // judged after its first half, when the finalizers have caught up (a leak grows to the end).
  console.log(`soak (unfreed) GPU buffers: ${soak!.unfreed.map((s) => s.buffers).join(', ')}`);
  for (const [u, from] of [[soak!.freed, 1], [soak!.unfreed, Math.floor(soak!.unfreed.length / 2)]] as const) {
    const [u1, uEnd] = [u[from] ?? u[0]!, u.at(-1)!];
    expect(uEnd.buffers - u1.buffers).toBeLessThanOrEqual(16);
    expect(uEnd.wasm - u1.wasm).toBeLessThanOrEqual(8 * 2 ** 20);
  }
  await page.close();
});
