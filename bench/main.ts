// The benchmark page: the tutorial MLP (784-512-256-256-128-10, ReLU, batch 256, SGD momentum
// 0.9, lr 0.01, U(±1/sqrt(fan_in)) init) trained on real FashionMNIST batches in the same page,
// on the same GPU, by: ActLab's compiled step (one model, and a stack of the six activations),
// ActLab's Burn path, TensorFlow.js's webgpu backend and jax-js's webgpu backend (its `jit`'d
// step). All keep the training images on the GPU and gather each batch there; none reads
// anything back until the end of a timed run, which waits for the queue. The CPU rows: ActLab's
// CPU module (the Burn path on Flex, SIMD128), TensorFlow.js's wasm backend (XNNPACK, SIMD) and
// jax-js's wasm backend, each on this page's thread with the images in its own memory. The page counts what
// every contender asks of WebGPU (dispatches, submits, buffers, bytes read back) by wrapping
// the API; bench/run.ts adds the main thread's busy time and prints the numbers.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import tfWasm from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import tfWasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import tfWasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
// tfjs-core alone registers no gradients (the tfjs umbrella package does): optimizers need them.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { Gpu, cpuBuild, gpu as gpuApi, key, load, loadCpu, relaxedMadd, loadFashionMnist, split, type Api, type Device, type PendingMetrics } from '../web/sdk/index.js';
import { ACTIVATIONS, compileStack, initStack, readStackMetrics, stackTrainStep, type Activation, type PendingStackMetrics } from '../web/sdk/index.js';
import type { GpuSplit, StackData, StackState, TrainState } from '../web/sdk/index.js';
import { jaxjs } from './jaxjs.js';

/** What the contenders ask of WebGPU, counted by wrapping its API before anyone uses it. */
const counts = { dispatches: 0, submits: 0, buffers: 0, readBytes: 0 };
function count<T extends object>(proto: T | undefined, method: string, add: (args: unknown[], self: unknown) => void): void {
  const p = proto as Record<string, unknown> | undefined;
  const original = p?.[method] as ((...a: unknown[]) => unknown) | undefined;
  if (!p || !original) return;
  p[method] = function (this: unknown, ...args: unknown[]) {
    add(args, this);
    return original.apply(this, args);
  };
}
count(globalThis.GPUComputePassEncoder?.prototype, 'dispatchWorkgroups', () => counts.dispatches++);
count(globalThis.GPUQueue?.prototype, 'submit', () => counts.submits++);
count(globalThis.GPUDevice?.prototype, 'createBuffer', () => counts.buffers++);
count(globalThis.GPUBuffer?.prototype, 'mapAsync', (args, self) => {
  const [mode, offset, size] = args as [number, number | undefined, number | undefined];
  if (mode & 1) counts.readBytes += size ?? (self as GPUBuffer).size - (offset ?? 0);
});

const BATCH = 256;
const LAYERS = [784, 512, 256, 256, 128, 10];

/** Milliseconds for `n` steps until the GPU is done (`ms`), and the part of it the page's own
 * thread spent issuing them (`hostMs`: building graphs, encoding, submitting). */
export interface RunTime {
  ms: number;
  hostMs: number;
}

/** One contender: `warm()` builds the model and takes the first step (compilation; resolves to
 * milliseconds), `run(n)` takes `n` more steps and waits for the GPU. */
export interface Contender {
  warm(): Promise<number>;
  run(steps: number): Promise<RunTime>;
  loss(): Promise<number>;
}

/** A contender with what it is: its library and backend, and how many models one step trains. */
export interface Entry {
  contender: Contender;
  backend: string;
  models: number;
}

const log = (s: string): void => {
  document.querySelector('#log')!.textContent += s + '\n';
};

/** A contender from its parts: `prepare()` builds the model (timed as part of the first step),
 * `steps(n)` issues n train steps without waiting, `finish()` waits for the GPU by reading the
 * last step's loss. */
function contender(prepare: () => void, steps: (n: number) => void, finish: () => Promise<number>): Contender {
  let lastLoss = NaN;
  const run = async (n: number): Promise<RunTime> => {
    const t0 = performance.now();
    steps(n);
    const hostMs = performance.now() - t0;
    lastLoss = await finish();
    return { ms: performance.now() - t0, hostMs };
  };
  return {
    warm: async () => {
      const t0 = performance.now();
      prepare();
      await run(1);
      return performance.now() - t0;
    },
    run,
    loss: () => Promise.resolve(lastLoss),
  };
}

/** The next batch of an endless run of epochs, all in `orderKey`'s order (ActLab's contenders). */
function batches<B>(epochOf: (orderKey: Uint32Array) => { batches: number; batch(i: number): B; free(): void }): { initKey: Uint32Array; next: () => B } {
  const keys = split(key(0), 2);
  const [initKey, orderKey] = [keys.slice(0, 2), keys.slice(2)];
  let epoch = epochOf(orderKey);
  let cursor = 0;
  const next = (): B => {
    if (cursor === epoch.batches) {
      epoch.free();
      epoch = epochOf(orderKey);
      cursor = 0;
    }
    return epoch.batch(cursor++);
  };
  return { initKey, next };
}

function actlab(api: Api, device: Device, train: GpuSplit): Contender {
  const { initKey, next } = batches((k) => train.epoch(k, BATCH));
  let state: TrainState | undefined;
  let last: PendingMetrics | undefined;
  const steps = (n: number): void => {
    for (let i = 0; i < n; i++) {
      const batch = next();
      const out = api.trainStep(state!, batch);
      batch.free();
      state!.free();
      last?.free();
      state = out.state;
      last = out.metrics;
    }
  };
  const prepare = (): void => {
    state = api.init(device, initKey, { activation: 'relu' }); // the defaults: the tutorial's MLP, PyTorch's init, SGD
  };
  const finish = async (): Promise<number> => {
    const { loss } = await last!.read();
    last = undefined;
    return loss;
  };
  return contender(prepare, steps, finish);
}

/** Six formulas of the user's own, of about the built-ins' size: what a stack of them costs. */
const CUSTOM: Activation[] = [
  { name: 'c_sigmoid', formula: '0.5 + 0.5 * tanh(0.5 * x)' },
  { name: 'c_softsign', formula: 'x / (1 + abs(x))' },
  { name: 'c_relu', formula: 'max(x, 0)' },
  { name: 'c_leaky', formula: 'max(x, a * x)', params: { a: 0.2 } },
  { name: 'c_elu', formula: 'where(x > 0, x, a * expm1(x))', params: { a: 0.5 } },
  { name: 'c_swish', formula: 'x * sigmoid(b * x)', params: { b: 1.5 } },
];

/** ActLab's compiled step: `models` copies of the MLP (the six activations in turn, or six
 * formulas of the user's) in one stack. */
function actlabJit(gpu: Gpu, train: StackData, models: number, acts: readonly Activation[] = ACTIVATIONS): Contender {
  const { initKey, next } = batches((k) => train.epoch(k, BATCH));
  let state: StackState | undefined;
  let last: PendingStackMetrics | undefined;
  const steps = (n: number): void => {
    for (let i = 0; i < n; i++) {
      const batch = next();
      const out = stackTrainStep(state!, batch);
      batch.free();
      last?.free();
      state = out.state;
      last = out.metrics;
    }
  };
  const prepare = (): void => {
    const configs = Array.from({ length: models }, (_, k) => ({ activation: acts[k % acts.length]! }));
    const program = compileStack(gpu, configs, BATCH);
    state = initStack(program, Array.from({ length: models }, () => initKey));
    program.free();
  };
  const finish = async (): Promise<number> => {
    const [values] = await readStackMetrics([last!]);
    last = undefined;
    return values![0]!.loss;
  };
  return contender(prepare, steps, finish);
}

/** `c` with TensorFlow.js's backend switched to `backend` first (each contender's tensors stay
 * on the backend that made them). */
function onTfBackend(backend: string, c: Contender): Contender {
  return {
    warm: async () => (await tf.setBackend(backend), c.warm()),
    run: async (n) => (await tf.setBackend(backend), c.run(n)),
    loss: () => c.loss(),
  };
}

function tensorflow(images: Uint8Array, labels: Uint8Array): Contender {
  const n = labels.length;
  // The dataset on the GPU once, normalised as the tutorial does; batches are gathered there.
  const xs = tf.tidy(() => tf.div(tf.sub(tf.div(tf.cast(tf.tensor2d(images, [n, 784], 'int32'), 'float32'), 255), 0.5), 0.5));
  const ys = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), 10), 'float32'));
  const params = LAYERS.slice(1).map((out, i) => {
    const fanIn = LAYERS[i]!;
    const bound = 1 / Math.sqrt(fanIn);
    return {
      w: tf.variable(tf.randomUniform([fanIn, out], -bound, bound, 'float32', 1 + 2 * i)),
      b: tf.variable(tf.randomUniform([out], -bound, bound, 'float32', 2 + 2 * i)),
    };
  });
  const optimizer = tf.train.momentum(0.01, 0.9);
  let order: Uint32Array = new Uint32Array(0);
  let cursor = 0;
  let last: tf.Scalar | undefined;
  let accuracy: tf.Scalar | undefined;
  const batchIndices = (): tf.Tensor1D => {
    const perEpoch = Math.floor(n / BATCH);
    if (cursor % perEpoch === 0) order = tf.util.createShuffledIndices(n);
    const at = (cursor++ % perEpoch) * BATCH;
    return tf.tensor1d(Int32Array.from(order.subarray(at, at + BATCH)), 'int32');
  };
  const steps = (count: number): void => {
    for (let i = 0; i < count; i++) {
      const idx = batchIndices();
      last?.dispose();
      accuracy?.dispose();
      last = optimizer.minimize(() => {
        const x = tf.gather(xs, idx);
        const y = tf.gather(ys, idx);
        let h: tf.Tensor2D = x as tf.Tensor2D;
        params.forEach(({ w, b }, l) => {
          h = tf.add(tf.matMul(h, w), b);
          if (l < params.length - 1) h = tf.relu(h);
        });
        // Same metrics as ActLab's step: the loss and the batch accuracy.
        accuracy = tf.keep(tf.mean(tf.cast(tf.equal(tf.argMax(h, 1), tf.argMax(y, 1)), 'float32')) as tf.Scalar);
        return tf.losses.softmaxCrossEntropy(y, h) as tf.Scalar;
      }, true) as tf.Scalar;
      idx.dispose();
    }
  };
  const finish = async (): Promise<number> => {
    await accuracy!.data();
    return (await last!.data())[0]!;
  };
  return contender(() => {}, steps, finish);
}

export interface BenchSetup {
  adapter: string;
  /** What a contender's setup found (which build of a backend runs). */
  notes: string[];
  trainImages: number;
  contenders: Record<string, { backend: string; models: number }>;
}

declare global {
  interface Window {
    bench: {
      setup(dataUrl: string, only?: string[]): Promise<BenchSetup>;
      contenders: Record<string, Entry>;
      counts(): typeof counts;
    };
  }
}

window.bench = {
  contenders: {},
  counts: () => ({ ...counts }),
  async setup(dataUrl: string, only?: string[]): Promise<BenchSetup> {
    await load();
    const webgpu = 'gpu' in navigator && (await navigator.gpu.requestAdapter()) !== null;
    // The device only where a WebGPU contender runs (not at all in an engine without WebGPU).
    let device: Gpu | undefined;
    const gpuDevice = async () => (device ??= await Gpu.create());
    const data = await loadFashionMnist(dataUrl);
    const trainImages = data.len('train');
    const all = Uint32Array.from({ length: trainImages }, (_, i) => i);
    const [pixels, labels] = [data.pixels('train', all), data.labels('train', all)];
    // TF.js's wasm binaries from node_modules, as Vite serves them; threads only where the page
    // is cross-origin isolated (it is not here: the SIMD build runs).
    setWasmPaths({ 'tfjs-backend-wasm.wasm': tfWasm, 'tfjs-backend-wasm-simd.wasm': tfWasmSimd, 'tfjs-backend-wasm-threaded-simd.wasm': tfWasmThreaded });
    const notes: string[] = [];
    // Built lazily: only the contenders asked for upload anything.
    const makers: Record<string, () => Promise<Entry>> = {
      'actlab-jit-1': async () => ({ contender: actlabJit(await gpuDevice(), data.uploadForStack(await gpuDevice(), 'train'), 1), backend: 'webgpu', models: 1 }),
      'actlab-jit-6': async () => ({ contender: actlabJit(await gpuDevice(), data.uploadForStack(await gpuDevice(), 'train'), 6), backend: 'webgpu', models: 6 }),
      'actlab-jit-6-custom': async () => ({ contender: actlabJit(await gpuDevice(), data.uploadForStack(await gpuDevice(), 'train'), 6, CUSTOM), backend: 'webgpu', models: 6 }),
      'actlab-burn': async () => ({ contender: actlab(gpuApi, await gpuDevice(), data.upload(await gpuDevice(), 'train')), backend: 'webgpu', models: 1 }),
      'tfjs-webgpu': async () => {
        await tf.setBackend('webgpu');
        return { contender: onTfBackend('webgpu', tensorflow(pixels, labels)), backend: 'webgpu', models: 1 };
      },
      'jaxjs-webgpu': async () => ({ contender: await jaxjs('webgpu', pixels, labels), backend: 'webgpu', models: 1 }),
      // The CPU rows: the same MLP, on this thread.
      'actlab-cpu': async () => {
        // ?simd=plain|relaxed (bench/run.ts --cpu-simd) forces a build; auto-detected otherwise.
        const simd = new URLSearchParams(location.search).get('simd');
        const cpu = await loadCpu({ simd: simd === 'plain' || simd === 'relaxed' ? simd : 'auto' });
        notes.push(`ActLab CPU module: the ${cpuBuild()} SIMD build (relaxed SIMD in this engine: ${relaxedMadd()})`);
        const device = await cpu.createDevice();
        const onCpu = await cpu.loadFashionMnist(dataUrl);
        return { contender: actlab(cpu, device, onCpu.upload(device, 'train')), backend: 'wasm', models: 1 };
      },
      'tfjs-wasm': async () => {
        await tf.setBackend('wasm');
        const [simd, threads] = [await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'), await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')];
        notes.push(`TF.js wasm backend: SIMD ${String(simd)}, threads ${String(threads)}`);
        return { contender: onTfBackend('wasm', tensorflow(pixels, labels)), backend: 'wasm', models: 1 };
      },
      'jaxjs-wasm': async () => ({ contender: await jaxjs('wasm', pixels, labels), backend: 'wasm', models: 1 }),
    };
    const onGpu = new Set(['actlab-jit-1', 'actlab-jit-6', 'actlab-jit-6-custom', 'actlab-burn', 'tfjs-webgpu', 'jaxjs-webgpu']);
    const asked = only ?? Object.keys(makers);
    for (const n of asked) if (!makers[n]) throw new Error(`unknown contender ${n}; known: ${Object.keys(makers).join(', ')}`);
    const skipped = webgpu ? [] : asked.filter((n) => onGpu.has(n));
    if (skipped.length) notes.push(`no WebGPU in this engine: ${skipped.join(', ')} not run`);
    window.bench.contenders = {};
    for (const n of asked.filter((n) => !skipped.includes(n))) {
      // A library that cannot run in this engine is a finding, not the end of the benchmark.
      try {
        window.bench.contenders[n] = await makers[n]!();
      } catch (e) {
        notes.push(`${n} could not start here: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    const names = Object.keys(window.bench.contenders);
    // GPUAdapter.info is newer than the WebGPU types TF.js pins.
    type Info = { info?: { vendor: string; architecture: string; description: string } };
    const { info } = (webgpu ? (await navigator.gpu.requestAdapter()) ?? {} : {}) as Info;
    const adapter = !webgpu ? 'none (no WebGPU)' : info ? `${info.vendor} ${info.architecture} ${info.description}`.trim() || 'unnamed' : 'unknown';
    log(`ready: ${trainImages} training images (${adapter})`);
    const described = Object.fromEntries(names.map((n) => [n, { backend: window.bench.contenders[n]!.backend, models: window.bench.contenders[n]!.models }]));
    return { adapter, notes, trainImages, contenders: described };
  },
};
