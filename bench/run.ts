// `npm run bench`: ActLab (compiled step, one model and a stack of six; the Burn path) against
// TensorFlow.js and jax-js (webgpu backends) in ONE headless browser, on the same WebGPU adapter
// (SwiftShader here, the real GPU where there is one), and the CPU rows: ActLab's CPU module
// against TensorFlow.js's and jax-js's wasm backends; contenders alternating round by round.
// `--engine` picks the browser engines (tests/engines.ts), each a table of its own: Chromium
// (every contender), Firefox ESR (WebGPU on lavapipe here: the compiled stack and jax-js's
// webgpu beside the CPU rows) and WebKitGTK (no WebGPU: the CPU rows). Everything is per
// *model-step* (a step of a stack of six counts six):
// - wall ms: from issuing the steps to the GPU being done;
// - host ms (Chromium only): the main thread's busy time over the whole round (Chrome's
//   TaskDuration from the DevTools protocol), readback included, so a library that defers work
//   to the read pays it;
// - dispatches, submits, buffers created and bytes read back (counted in the page);
// - first step (build + compile).
// Numbers only: no assertions. `--json` prints the same as one JSON object on the last line;
// `--profile` (Chromium) samples the main thread during the timed runs and prints each
// contender's top five functions by self time per model-step.
//
// `--cpu-simd plain` (or `relaxed`) runs that build of ActLab's CPU module instead of the one
// the engine's features pick (relaxed SIMD where it has it).
//
//   npx tsx bench/run.ts [--engine chromium|firefox|webkit|all] [--rounds 3] [--steps 3] [--only a,b] [--cpu-simd auto|plain|relaxed] [--json] [--profile]
import { createServer } from 'vite';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { parseArgs } from 'node:util';
import type { CDPSession } from 'playwright-core';
import { logConsole } from '../tests/browser.js';
import { ENGINES, type Engine, type Tab } from '../tests/engines.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    steps: { type: 'string', default: '3' },
    only: { type: 'string' },
    engine: { type: 'string', default: 'chromium' },
    'cpu-simd': { type: 'string', default: 'auto' },
    json: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
  },
});
const rounds = Number(values.rounds);
const steps = Number(values.steps);
if (!(rounds >= 1 && steps >= 1)) throw new Error('--rounds and --steps must be positive integers');
const cpuSimd = values['cpu-simd'];
if (!['auto', 'plain', 'relaxed'].includes(cpuSimd)) throw new Error(`--cpu-simd must be auto, plain or relaxed, got ${cpuSimd}`);
const engineNames = values.engine === 'all' ? ['chromium', 'firefox', 'webkit'] : values.engine.split(',');
for (const e of engineNames) if (!ENGINES[e]) throw new Error(`unknown engine ${e}; known: ${Object.keys(ENGINES).join(', ')}, all`);
// Outside Chromium the CPU rows and, where there is WebGPU, the compiled stack and jax-js's webgpu.
const OTHER_ENGINES = ['actlab-cpu', 'jaxjs-wasm', 'tfjs-wasm', 'actlab-jit-6', 'jaxjs-webgpu'];

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (ms: number): string => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(1)} ms`);
const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** Seconds the renderer's main thread has been busy (Chrome's TaskDuration). */
async function busy(cdp: CDPSession): Promise<number> {
  const { metrics } = await cdp.send('Performance.getMetrics');
  return metrics.find((m) => m.name === 'TaskDuration')?.value ?? NaN;
}

interface Profile {
  nodes: { id: number; callFrame: { functionName: string; url: string } }[];
  samples?: number[];
  timeDeltas?: number[];
}

/** Self time (ms) by function over a CPU profile, idle excluded. */
function selfTimes(p: Profile, into: Map<string, number>): void {
  const names = new Map(p.nodes.map((n) => {
    const file = n.callFrame.url.split('/').pop() ?? '';
    return [n.id, `${n.callFrame.functionName || '(anonymous)'}${file ? ` ${file}` : ''}`];
  }));
  (p.samples ?? []).forEach((id, i) => {
    const name = names.get(id) ?? '?';
    if (name.startsWith('(idle)')) return;
    into.set(name, (into.get(name) ?? 0) + (p.timeDeltas?.[i] ?? 0) / 1000);
  });
}

interface Counts { dispatches: number; submits: number; buffers: number; readBytes: number }
interface BenchSetup { adapter: string; notes: string[]; trainImages: number; contenders: Record<string, { backend: string; models: number }> }

interface Row {
  wall: number[];
  host: number[];
  dispatches: number;
  submits: number;
  buffers: number;
  readBytes: number;
  modelSteps: number;
}

const log = (s: string): void => {
  if (!values.json) console.log(s);
  else console.error(s);
};
const js = (v: unknown): string => JSON.stringify(v);

/** Seconds of a round: the timed steps, and the main thread's busy time where it is measured. */
async function bench(engine: Engine, tab: Tab): Promise<Record<string, unknown>> {
  const page = tab.page;
  let cdp: CDPSession | undefined;
  if (page) {
    logConsole(page, 'bench');
    page.on('response', (r) => { if (r.status() >= 400) console.error(`[bench] ${r.status()} ${r.url()}`); });
    cdp = await page.context().newCDPSession(page);
    await cdp.send('Performance.enable');
    if (values.profile) {
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
    }
  }
  const profiles = new Map<string, Map<string, number>>();
  for (let i = 0; !(await tab.evaluate<boolean>(`'bench' in window`)); i++) {
    if (i > 600) throw new Error(`${engine.name}: the bench page did not load`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const only = values.only?.split(',') ?? (engine.name === 'Chromium' ? undefined : OTHER_ENGINES);
  const setup = await tab.evaluate<BenchSetup>(`window.bench.setup('/data/fashion-mnist/', ${js(only)})`);
  const names = Object.keys(setup.contenders);
  log(`${engine.name} ${engine.version()}, WebGPU adapter: ${setup.adapter}`);
  setup.notes.forEach((n) => log(`  ${n}`));
  log(`MLP 784-512-256-256-128-10, batch 256, SGD momentum 0.9, lr 0.01; ${setup.trainImages} FashionMNIST ` +
    `training images on the GPU; ${rounds} rounds x ${steps} steps, contenders alternating`);

  const first: Record<string, number> = {};
  for (const name of names) {
    first[name] = await tab.evaluate<number>(`window.bench.contenders[${js(name)}].contender.warm()`);
    log(`  ${name.padEnd(13)} first step (build + compile): ${fmt(first[name]!)}`);
  }
  const rows: Record<string, Row> = Object.fromEntries(names.map((n) => [n, {
    wall: [], host: [], dispatches: 0, submits: 0, buffers: 0, readBytes: 0, modelSteps: 0,
  }]));
  for (let r = 0; r < rounds; r++) {
    // Rotate who goes first, so nobody always runs on a warmer (or hotter) machine.
    const order = names.map((_, i) => names[(i + r) % names.length]!);
    for (const name of order) {
      const models = setup.contenders[name]!.models;
      const c0 = await tab.evaluate<Counts>('window.bench.counts()');
      if (cdp && values.profile) await cdp.send('Profiler.start');
      const b0 = cdp ? await busy(cdp) : NaN;
      const { ms } = await tab.evaluate<{ ms: number }>(`window.bench.contenders[${js(name)}].contender.run(${steps})`);
      const b1 = cdp ? await busy(cdp) : NaN;
      if (cdp && values.profile) {
        const { profile } = await cdp.send('Profiler.stop');
        if (!profiles.has(name)) profiles.set(name, new Map());
        selfTimes(profile as Profile, profiles.get(name)!);
      }
      const c1 = await tab.evaluate<Counts>('window.bench.counts()');
      const row = rows[name]!;
      const modelSteps = steps * models;
      row.wall.push(ms / modelSteps);
      row.host.push(((b1 - b0) * 1000) / modelSteps);
      row.dispatches += c1.dispatches - c0.dispatches;
      row.submits += c1.submits - c0.submits;
      row.buffers += c1.buffers - c0.buffers;
      row.readBytes += c1.readBytes - c0.readBytes;
      row.modelSteps += modelSteps;
    }
    log(`  round ${r + 1}: ` + names.map((n) => `${n} ${fmt(rows[n]!.wall.at(-1)!)}`).join(', ') + ' per model-step');
  }

  const contenders = names.map((name) => {
    const row = rows[name]!;
    const [library, ...rest] = name.split('-');
    return {
      name,
      library,
      variant: rest.join('-'),
      backend: setup.contenders[name]!.backend,
      models: setup.contenders[name]!.models,
      ms_per_model_step: round3(median(row.wall)),
      host_ms_per_model_step: cdp ? round3(median(row.host)) : null,
      dispatches_per_model_step: round3(row.dispatches / row.modelSteps),
      submits_per_model_step: round3(row.submits / row.modelSteps),
      buffers_per_model_step: round3(row.buffers / row.modelSteps),
      read_bytes_per_model_step: round3(row.readBytes / row.modelSteps),
      first_step_ms: round3(first[name]!),
    };
  });
  // ActLab's best WebGPU configuration by each measure, against each WebGPU peer: median of
  // per-round ratios. The CPU module has its own ratios, against the wasm peers.
  // The stack of six custom formulas is the built-ins' stack again: it is compared with that.
  const ours = names.filter((n) => n.startsWith('actlab') && !n.endsWith('-custom') && setup.contenders[n]!.backend === 'webgpu');
  const best = (key: 'wall' | 'host'): string | undefined =>
    [...ours].sort((a, b) => median(rows[a]![key]) - median(rows[b]![key]))[0];
  const ratio = (key: 'wall' | 'host', peer: string): number | null => {
    if (key === 'host' && !cdp) return null;
    const a = best(key);
    if (!a || !rows[peer]) return null;
    return round3(median(rows[a]![key].map((x, i) => x / rows[peer]![key][i]!)));
  };
  const cpuRatio = (peer: string): number | null => (rows['actlab-cpu'] && rows[peer]
    ? round3(median(rows['actlab-cpu'].wall.map((x, i) => x / rows[peer]!.wall[i]!)))
    : null);
  const ratios = {
    wall_vs_tfjs_webgpu: ratio('wall', 'tfjs-webgpu'),
    host_vs_tfjs_webgpu: ratio('host', 'tfjs-webgpu'),
    wall_vs_jaxjs_webgpu: ratio('wall', 'jaxjs-webgpu'),
    host_vs_jaxjs_webgpu: ratio('host', 'jaxjs-webgpu'),
    cpu_wall_vs_jaxjs_wasm: cpuRatio('jaxjs-wasm'),
    cpu_wall_vs_tfjs_wasm: cpuRatio('tfjs-wasm'),
    custom_vs_builtin_wall: rows['actlab-jit-6-custom'] && rows['actlab-jit-6']
      ? round3(median(rows['actlab-jit-6-custom'].wall.map((x, i) => x / rows['actlab-jit-6']!.wall[i]!)))
      : null,
    best_wall: best('wall') ?? null,
    best_host: best('host') ?? null,
  };
  const wasm = readFileSync('pkg/actlab_bg.wasm');
  const wasmGzipMiB = round3(gzipSync(wasm, { level: 9 }).length / 2 ** 20);
  const cpuWasm = readFileSync('pkg/cpu/actlab_cpu_bg.wasm');
  const cpuWasmGzipMiB = round3(gzipSync(cpuWasm, { level: 9 }).length / 2 ** 20);

  log('');
  log('| contender | models | wall ms/model-step | host ms/model-step | dispatches | submits | buffers | bytes read | first step |');
  log('|---|---|---|---|---|---|---|---|---|');
  for (const c of contenders) {
    log(`| ${c.name} | ${c.models} | ${c.ms_per_model_step.toFixed(1)} | ${c.host_ms_per_model_step?.toFixed(2) ?? 'n/a'} | ` +
      `${c.dispatches_per_model_step.toFixed(1)} | ${c.submits_per_model_step.toFixed(2)} | ${c.buffers_per_model_step.toFixed(2)} | ` +
      `${c.read_bytes_per_model_step.toFixed(0)} | ${fmt(c.first_step_ms)} |`);
  }
  log('(per model-step; wall and host: medians over rounds; the rest: totals over all rounds divided by model-steps)');
  log('');
  log(`ratios, ActLab's best (wall: ${ratios.best_wall}, host: ${ratios.best_host}) / peer, median per round: ` +
    `wall vs TF.js ${ratios.wall_vs_tfjs_webgpu}, host vs TF.js ${ratios.host_vs_tfjs_webgpu}, ` +
    `wall vs jax-js ${ratios.wall_vs_jaxjs_webgpu}, host vs jax-js ${ratios.host_vs_jaxjs_webgpu} (under 1: ActLab is better)`);
  log(`six custom formulas / the six built-ins, the compiled stack's wall time, median per round: ${ratios.custom_vs_builtin_wall}`);
  log(`CPU: ActLab's CPU module / peer, wall, median per round: vs jax-js wasm ${ratios.cpu_wall_vs_jaxjs_wasm}, ` +
    `vs TF.js wasm ${ratios.cpu_wall_vs_tfjs_wasm}`);
  log(`wasm: ${(wasm.length / 2 ** 20).toFixed(2)} MiB, ${wasmGzipMiB} MiB gzip -9; ` +
    `CPU module: ${(cpuWasm.length / 2 ** 20).toFixed(2)} MiB, ${cpuWasmGzipMiB} MiB gzip -9`);
  for (const [name, times] of profiles) {
    const per = rows[name]!.modelSteps;
    const top = [...times].sort((a, b) => b[1] - a[1]).slice(0, 5);
    log(`main-thread profile, ${name}, top five by self time (ms per model-step): ` +
      top.map(([f, ms]) => `${f} ${(ms / per).toFixed(3)}`).join('; '));
  }
  return {
    engine: engine.name,
    version: engine.version(),
    adapter: setup.adapter,
    notes: setup.notes,
    rounds,
    steps,
    contenders,
    ratios,
    wasm_gzip_mib: wasmGzipMiB,
    cpu_wasm_gzip_mib: cpuWasmGzipMiB,
  };
}

const server = await createServer({ server: { port: 0, host: '127.0.0.1' }, logLevel: 'warn' });
await server.listen();
const url = server.resolvedUrls!.local[0]!;
const results: Record<string, unknown>[] = [];
try {
  for (const name of engineNames) {
    const engine = ENGINES[name]!();
    if (!engine.available()) {
      log(`${engine.name}: not installed here (npm run setup installs it)`);
      continue;
    }
    try {
      results.push(await bench(engine, await engine.open(`${url}bench/?simd=${cpuSimd}`)));
    } finally {
      await engine.stop();
    }
    log('');
  }
  if (engineNames.length > 1) {
    log('CPU module / jax-js wasm, wall per model-step, by engine: '
      + results.map((r) => `${r.engine as string} ${String((r.ratios as { cpu_wall_vs_jaxjs_wasm: number | null }).cpu_wall_vs_jaxjs_wasm)}`).join(', '));
  }
  if (values.json) console.log(JSON.stringify({ engines: results }));
} finally {
  await server.close();
}
