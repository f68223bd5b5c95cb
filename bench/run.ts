// `npm run bench`: ActLab against TensorFlow.js (webgpu backend) in ONE headless Chromium, on
// the same WebGPU adapter (SwiftShader here, the real GPU where there is one), alternating A/B.
// Prints ms per step for each, the ratio ActLab / TF.js (median, min, max over rounds) and the
// time to the first step (model build + kernel compilation). Numbers only: no assertions.
//
//   npx tsx bench/run.ts [--rounds 3] [--steps 3]     (npm run bench -- --rounds 5)
import { createServer } from 'vite';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { parseArgs } from 'node:util';
import { launch, logConsole } from '../tests/browser.js';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '3' }, steps: { type: 'string', default: '3' } },
});
const rounds = Number(values.rounds);
const steps = Number(values.steps);
if (!(rounds >= 1 && steps >= 1)) throw new Error('--rounds and --steps must be positive integers');

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (ms: number): string => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(1)} ms`);

const server = await createServer({ server: { port: 0, host: '127.0.0.1' }, logLevel: 'warn' });
await server.listen();
const url = server.resolvedUrls!.local[0]!;
const browser = await launch();
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(0); // SwiftShader: a first step can compile for minutes
  logConsole(page, 'bench');
  await page.goto(`${url}bench/`);
  await page.waitForFunction(() => 'bench' in window);
  const setup = await page.evaluate((d) => window.bench.setup(d), '/data/fashion-mnist/');
  console.log(`Chromium ${browser.version()}, WebGPU adapter: ${setup.adapter}; TF.js backend: ${setup.tfBackend}`);
  console.log(`MLP 784-512-256-256-128-10, ReLU, batch 256, SGD momentum 0.9, lr 0.01; ` +
    `${setup.trainImages} FashionMNIST training images on the GPU; ${rounds} rounds x ${steps} steps, alternating`);

  const names = ['actlab', 'tfjs'] as const;
  const first: Record<string, number> = {};
  for (const name of names) {
    first[name] = await page.evaluate((n) => window.bench.contenders[n].warm(), name);
    console.log(`  ${name.padEnd(7)} first step (build + compile): ${fmt(first[name]!)}`);
  }
  const perStep: Record<string, number[]> = { actlab: [], tfjs: [] };
  const hostPerStep: Record<string, number[]> = { actlab: [], tfjs: [] };
  for (let r = 0; r < rounds; r++) {
    // Alternate which goes first, so neither always runs on a warmer (or hotter) machine.
    for (const name of r % 2 ? [...names].reverse() : names) {
      const { ms, hostMs } = await page.evaluate(([n, k]) => window.bench.contenders[n].run(k), [name, steps] as const);
      perStep[name]!.push(ms / steps);
      hostPerStep[name]!.push(hostMs / steps);
    }
    console.log(`  round ${r + 1}: actlab ${fmt(perStep.actlab!.at(-1)!)}/step, tfjs ${fmt(perStep.tfjs!.at(-1)!)}/step`);
  }
  const ratios = perStep.actlab!.map((a, i) => a / perStep.tfjs![i]!);
  const losses = await page.evaluate(async () => [await window.bench.contenders.actlab.loss(), await window.bench.contenders.tfjs.loss()]);
  const wasm = readFileSync('pkg/actlab_bg.wasm');
  console.log('');
  console.log('| | ActLab | TF.js webgpu |');
  console.log('|---|---|---|');
  console.log(`| ms/step (median of ${rounds}) | ${median(perStep.actlab!).toFixed(1)} | ${median(perStep.tfjs!).toFixed(1)} |`);
  console.log(`| ms/step min-max | ${Math.min(...perStep.actlab!).toFixed(1)}-${Math.max(...perStep.actlab!).toFixed(1)} | ${Math.min(...perStep.tfjs!).toFixed(1)}-${Math.max(...perStep.tfjs!).toFixed(1)} |`);
  console.log(`| of which the page's thread (median) | ${median(hostPerStep.actlab!).toFixed(1)} | ${median(hostPerStep.tfjs!).toFixed(1)} |`);
  console.log(`| first step (build + compile) | ${fmt(first.actlab!)} | ${fmt(first.tfjs!)} |`);
  console.log(`| loss after the last step | ${losses[0]!.toFixed(4)} | ${losses[1]!.toFixed(4)} |`);
  console.log('');
  console.log(`ratio ActLab / TF.js ms per step: median ${median(ratios).toFixed(3)}, ` +
    `min ${Math.min(...ratios).toFixed(3)}, max ${Math.max(...ratios).toFixed(3)} (under 1: ActLab is faster)`);
  console.log(`wasm: ${(wasm.length / 2 ** 20).toFixed(2)} MiB, ${(gzipSync(wasm, { level: 9 }).length / 2 ** 20).toFixed(2)} MiB gzip -9`);
  console.log('No CPU fallback in the browser (the crate\'s CPU backend is native only), so no TF.js wasm comparison.');
} finally {
  await browser.close();
  await server.close();
}
