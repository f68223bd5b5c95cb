// The npm package's entry point: the wasm-bindgen API, whose plain objects (configs, metrics)
// are typed by the Rust types (types.ts), plus the data loader. Compiled to pkg/sdk/, the
// same depth below the package root as this file, so the relative import of the wasm-bindgen
// output resolves both here and in an installed package.
import initWasm, * as wasm from '../../pkg/actlab.js';
import { cacheFashionFiles, loadFashionFiles, type LoadOptions } from './loader.js';
import type { Activation, Complete, DeviceLoss, Key, MetricValues, TrainConfig } from './types.js';

export { Gpu, FashionData, GpuSplit, Epoch, Batch, TrainState, Restored, key, split, foldIn, permutation } from '../../pkg/actlab.js';
export { StackProgram, StackState, StackData, StackEpoch, StackBatch, StackMetrics } from '../../pkg/actlab.js';
export * from './loader.js';
export * from './types.js';

let ready: Promise<wasm.InitOutput> | undefined;
let instance: wasm.InitOutput | undefined;

/**
 * Loads and instantiates the WebAssembly module (once; later calls return the same promise).
 * `wasmUrl` overrides where the `.wasm` file is fetched from.
 */
export function load(wasmUrl?: string | URL): Promise<void> {
  ready ??= initWasm(wasmUrl === undefined ? undefined : { module_or_path: wasmUrl }).then((out) => (instance = out));
  return ready.then(() => undefined);
}

/** Bytes of the module's linear memory (it grows and never shrinks): for diagnostics. */
export function wasmMemoryBytes(): number {
  return instance?.memory.buffer.byteLength ?? 0;
}

/** Whether this browser exposes WebGPU at all (the adapter may still be refused later). */
export function hasWebGpu(): boolean {
  return typeof navigator !== 'undefined' && 'gpu' in navigator;
}

/** The tutorial's configuration with every field present: what `init` uses for a field left out. */
export function defaultConfig(): Complete<TrainConfig> {
  return wasm.defaultConfig() as Complete<TrainConfig>;
}

/** `config` with every missing field filled in and checked as `init` checks it; throws what is wrong. */
export function fullConfig(config: TrainConfig = {}): Complete<TrainConfig> {
  return wasm.fullConfig(config) as Complete<TrainConfig>;
}

/** `TrainState.create(params = init(key, config), tx)` on `gpu`. */
export function init(gpu: wasm.Gpu, key: Key, config: TrainConfig = {}): wasm.TrainState {
  return wasm.init(gpu, key, config);
}

/** Metrics still on the GPU: `read()` once, or read many at once with `readMetrics`. */
export type PendingMetrics = wasm.Metrics;

/** Reads many pending metrics with one GPU readback (each readback waits for the GPU). */
export function readMetrics(pending: PendingMetrics[]): Promise<MetricValues[]> {
  return wasm.readMetrics(pending);
}

/** One step; `state` stays valid. Returns the new state and the batch's metrics. */
export function trainStep(state: wasm.TrainState, batch: wasm.Batch): { state: wasm.TrainState; metrics: PendingMetrics } {
  const out = wasm.trainStep(state, batch);
  return { state: out.state, metrics: out.metrics };
}

/** Loss and accuracy of `state` on `batch`. */
export function evalStep(state: wasm.TrainState, batch: wasm.Batch): PendingMetrics {
  return wasm.evalStep(state, batch);
}

/** The predicted class of every example of `batch`. */
export function predict(state: wasm.TrainState, batch: wasm.Batch): Promise<Uint32Array> {
  return wasm.predict(state, batch).read();
}

/** Indices `start, start+1, …` of length `n`: for evaluation batches. */
export function range(start: number, n: number): Uint32Array {
  return Uint32Array.from({ length: n }, (_, i) => start + i);
}

/**
 * Fetches FashionMNIST from `baseUrl` (the four official `.gz` files), parses it and splits the
 * 60k training images 50k/10k into train/val with `splitKey` (default `key(0)`). Call `load()`
 * first. With `opts.cache`, a parsed set is stored and later loads skip the network.
 */
export async function loadFashionMnist(baseUrl: string, opts: LoadOptions & { splitKey?: Key } = {}): Promise<wasm.FashionData> {
  let fromCache = false;
  const files = await loadFashionFiles(baseUrl, {
    ...opts,
    onProgress: (p) => {
      fromCache ||= p.phase === 'cached';
      opts.onProgress?.(p);
    },
  });
  const data = wasm.FashionData.parse(...files, opts.splitKey ?? wasm.key(0));
  if (opts.cache && !fromCache) await cacheFashionFiles(opts.cache, files);
  return data;
}

// ---- runs that survive -------------------------------------------------------------------

/**
 * The state as a checkpoint file (format: docs/checkpoints.md): params, optimizer state, step
 * and config, with the run's PRNG `key` and free-form `meta` text saved beside them.
 */
export function saveCheckpoint(state: wasm.TrainState, key: Key, meta = ''): Promise<Uint8Array> {
  return state.checkpoint(key, meta);
}

/**
 * A checkpoint file back on `gpu`. Throws a clear error for a file that is not a checkpoint,
 * is truncated or corrupt, has another format version, or does not fit its configuration.
 */
export function restoreCheckpoint(gpu: wasm.Gpu, bytes: Uint8Array): { state: wasm.TrainState; key: Key; meta: string } {
  const r = wasm.restoreCheckpoint(gpu, bytes);
  try {
    return { state: r.state, key: r.key, meta: r.meta };
  } finally {
    r.free();
  }
}

/** The params as `flax.serialization.to_bytes(variables)` writes them (load them in Flax). */
export function exportFlax(state: wasm.TrainState): Promise<Uint8Array> {
  return state.exportFlax();
}

/** Resolves if `gpu`'s device is lost (WebGPU's `device.lost`); never while it works. */
export function deviceLost(gpu: wasm.Gpu): Promise<DeviceLoss> {
  return gpu.lost as Promise<DeviceLoss>;
}

// ---- analyses (computed on the GPU, read back once) -----------------------------------------

const arrays = (a: wasm.Arrays) => a.read();

/** `f(x)` and `f'(x)` (autodiff) of an activation function at every `x`. */
export async function activationCurve(gpu: wasm.Gpu, activation: Activation, xs: Float32Array): Promise<{ f: Float32Array; df: Float32Array }> {
  const [f, df] = await arrays(wasm.activationCurve(gpu, activation, xs));
  return { f: f!, df: df! };
}

/** Gradient flow: `|dLoss/dKernel|` of each layer on `batch` (flattened kernels). */
export function gradientMagnitudes(state: wasm.TrainState, batch: wasm.Batch): Promise<Float32Array[]> {
  return arrays(wasm.gradientMagnitudes(state, batch));
}

/** Each hidden layer's outputs on `batch` (flattened `[n * width]`). */
export function hiddenActivations(state: wasm.TrainState, batch: wasm.Batch): Promise<Float32Array[]> {
  return arrays(wasm.hiddenActivations(state, batch));
}

/** Per hidden layer, the fraction of units that output 0 for every example of `split`. */
export async function deadFractions(state: wasm.TrainState, split: wasm.GpuSplit): Promise<number[]> {
  return (await arrays(wasm.deadFractions(state, split))).map((a) => a[0]!);
}

// ---- compiled steps: ActLab's `jit`, many models in one step ----------------------------

/**
 * Compiles the train step once for a stack of models (same layer sizes and optimizer; each its
 * own activation) at `batchSize` images per step: afterwards every step is one GPU submit.
 */
export function compileStack(gpu: wasm.Gpu, configs: TrainConfig[], batchSize: number): wasm.StackProgram {
  return wasm.compileStack(gpu, configs, batchSize);
}

/** Every model's `init`: model k from `keys[k]` (pass the same key to give all the same start). */
export function initStack(program: wasm.StackProgram, keys: Key[]): wasm.StackState {
  const flat = new Uint32Array(keys.length * 2);
  keys.forEach((k, i) => {
    if (k?.length !== 2) throw new Error(`key ${i}: a PRNG key is a Uint32Array of length 2, got ${k?.length ?? String(k)}`);
    flat.set(k, 2 * i);
  });
  return wasm.initStack(program, flat);
}

/** Per-model metrics of a step, still on the GPU: read many at once with `readStackMetrics`. */
export type PendingStackMetrics = wasm.StackMetrics;

/**
 * One step of every model on `batch`. Consumes `state` (its GPU buffers are updated in place,
 * like JAX's donated arguments): use the returned state; the old one throws if used again.
 */
export function stackTrainStep(state: wasm.StackState, batch: wasm.StackBatch): { state: wasm.StackState; metrics: PendingStackMetrics } {
  const out = wasm.stackTrainStep(state, batch);
  try {
    return { state: out.state, metrics: out.metrics[0]! };
  } finally {
    out.free(); // `state` stays a shell that says it was consumed if used again
  }
}

/** `stackTrainStep` over many batches with one GPU submit per 64 steps (JAX's `scan`); the batches are consumed. */
export function stackTrainSteps(state: wasm.StackState, batches: wasm.StackBatch[]): { state: wasm.StackState; metrics: PendingStackMetrics[] } {
  const out = wasm.stackTrainSteps(state, batches);
  try {
    return { state: out.state, metrics: out.metrics };
  } finally {
    out.free(); // `state` stays a shell that says it was consumed if used again
  }
}

/** Per-model loss and accuracy on `batch`; the state is unchanged. */
export function stackEvalStep(state: wasm.StackState, batch: wasm.StackBatch): PendingStackMetrics {
  return wasm.stackEvalStep(state, batch);
}

/** `stackEvalStep` for many batches, one GPU submit per 64; the batches are consumed. */
export function stackEvalSteps(state: wasm.StackState, batches: wasm.StackBatch[]): PendingStackMetrics[] {
  return wasm.stackEvalSteps(state, batches);
}

/** A stack from checkpoint files, one per model of `program` (all at the same step). */
export function stackFromCheckpoints(program: wasm.StackProgram, files: Uint8Array[]): wasm.StackState {
  return wasm.stackFromCheckpoints(program, files);
}

/** Reads many steps' metrics with one GPU readback: `[step][model]`. */
export function readStackMetrics(pending: PendingStackMetrics[]): Promise<MetricValues[][]> {
  return wasm.readStackMetrics(pending);
}

/** Every model's predicted classes on `batch`, one `Uint32Array` per model. */
export function stackPredict(state: wasm.StackState, batch: wasm.StackBatch): Promise<Uint32Array[]> {
  return wasm.stackPredict(state, batch);
}
