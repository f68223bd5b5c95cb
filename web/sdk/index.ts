// The npm package's entry point: the wasm-bindgen API, whose plain objects (configs, metrics)
// are typed by the Rust types (types.ts), plus the data loader. Compiled to pkg/sdk/, the
// same depth below the package root as this file, so the relative import of the wasm-bindgen
// output resolves both here and in an installed package.
import initWasm, * as raw from '../../pkg/actlab.js';
import { bind, type Api, type Wasm } from './api.js';
import { guard } from './guard.js';
import { cpuBuildFor, type CpuBuild } from './simd.js';
import type { Activation, DeviceLoss, Key, MetricValues, TrainConfig } from './types.js';

export { Gpu, FashionData, DeviceSplit, Epoch, Batch, TrainState, Restored, key, split, foldIn, permutation } from '../../pkg/actlab.js';
export type { Cpu } from '../../pkg/cpu/actlab_cpu.js';
/** The name of `DeviceSplit` before the CPU module: a split uploaded to the device. */
export type GpuSplit = raw.DeviceSplit;
export { type Api, type Device, type DeviceData, type PendingMetrics } from './api.js';
export { StackProgram, StackState, StackData, StackEpoch, StackBatch, StackMetrics } from '../../pkg/actlab.js';
export * from './loader.js';
export * from './simd.js';
export * from './types.js';

/** The page's module, guarded: a freed or used-up object throws an Error that says so. */
const wasm = guard(raw);
type InitOutput = raw.InitOutput;

let ready: Promise<InitOutput> | undefined;
let instance: InitOutput | undefined;

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

/** The Burn path on the page's module (WebGPU): `load()` first. */
export const gpu: Api = bind(wasm, 'gpu');

export const {
  defaultConfig, fullConfig, init, readMetrics, trainStep, evalStep, predict, loadFashionMnist, restoreCheckpoint,
  activationCurve, gradientMagnitudes, hiddenActivations, deadFractions, deadCounts, checkActivation, activationValues, activationGrammar,
  exportJax,
  splitKeys,
} = gpu;

let cpuReady: Promise<Api> | undefined;
let cpuLoaded: CpuBuild | undefined;

/** Where the relaxed-SIMD build's `.wasm` is (it shares the plain build's JavaScript glue). */
const RELAXED_WASM = new URL('../../pkg/cpu/actlab_cpu_relaxed_bg.wasm', import.meta.url);

/** How `loadCpu` finds and picks the CPU module. */
export interface CpuOptions {
  /** Where the `.wasm` is fetched from (of the build `simd` picks); default: next to the package's. */
  wasmUrl?: string | URL;
  /**
   * `auto` (default): the relaxed-SIMD build (fused multiply-add in the products) where this
   * engine has relaxed SIMD, else the plain SIMD128 one; `relaxed` or `plain` force one.
   */
  simd?: 'auto' | CpuBuild;
}

/**
 * Loads the CPU module (Burn's Flex backend compiled with SIMD128: for browsers without a usable
 * GPU) and resolves with the same API bound to it; `createDevice()` there gives the `Cpu`. A
 * separate download, fetched only on this call. A string or URL is `{ wasmUrl }`. Where the
 * engine has WebAssembly relaxed SIMD it loads the build with fused multiply-adds (its losses
 * differ from the plain build's in the last bits); `cpuBuild()` says which one loaded. Once
 * loaded, later calls return that module whatever they ask for (one instance per page/worker).
 */
export function loadCpu(options?: string | URL | CpuOptions): Promise<Api> {
  const opts: CpuOptions = typeof options === 'string' || options instanceof URL ? { wasmUrl: options } : (options ?? {});
  cpuReady ??= import('../../pkg/cpu/actlab_cpu.js').then(async (cpu) => {
    const build = cpuBuildFor(opts.simd);
    try {
      const url = opts.wasmUrl ?? (build === 'relaxed' ? RELAXED_WASM : undefined);
      await cpu.default(url === undefined ? undefined : { module_or_path: url });
    } catch (e) {
      if (!(e instanceof WebAssembly.CompileError)) throw e;
      const needs = build === 'relaxed' ? 'WebAssembly relaxed SIMD (load it with { simd: \'plain\' } instead)' : 'WebAssembly SIMD (Chrome 91+, Firefox 89+, Safari 16.4+)';
      throw new Error(`this browser cannot compile the CPU module, which needs ${needs}: ${e.message}`);
    }
    cpuLoaded = build;
    return bind(guard(cpu) as unknown as Wasm, 'cpu');
  });
  // A failed load (offline, no SIMD) is not kept: a later call tries again.
  cpuReady.catch(() => (cpuReady = undefined));
  return cpuReady;
}

/** Which build of the CPU module `loadCpu` loaded, once it has resolved. */
export function cpuBuild(): CpuBuild | undefined {
  return cpuLoaded;
}

/** Whether `key` draws as JAX before 0.5 did (the tutorial notebook's PRNG). */
export function isLegacyKey(key: Key): boolean {
  return key.length === 3 && key[2] === 1;
}

/** Indices `start, start+1, …` of length `n`: for evaluation batches. */
export function range(start: number, n: number): Uint32Array {
  return Uint32Array.from({ length: n }, (_, i) => start + i);
}

// ---- runs that survive -------------------------------------------------------------------

/**
 * The state as a checkpoint file (format: docs/checkpoints.md): params, optimizer state, step
 * and config, with the run's PRNG `key` and free-form `meta` text saved beside them.
 */
export function saveCheckpoint(state: raw.TrainState, key: Key, meta = ''): Promise<Uint8Array> {
  return state.checkpoint(key, meta);
}

/** The params as `flax.serialization.to_bytes(variables)` writes them (load them in Flax). */
export function exportFlax(state: raw.TrainState): Promise<Uint8Array> {
  return state.exportFlax();
}

/** Resolves if `gpu`'s device is lost (WebGPU's `device.lost`); never while it works. */
export function deviceLost(gpu: raw.Gpu): Promise<DeviceLoss> {
  return gpu.lost as Promise<DeviceLoss>;
}

// ---- compiled steps: ActLab's `jit`, many models in one step ----------------------------

/**
 * Compiles the train step once for a stack of models (same layer sizes and optimizer; each its
 * own activation) at `batchSize` images per step: afterwards every step is one GPU submit.
 */
export function compileStack(gpu: raw.Gpu, configs: TrainConfig[], batchSize: number): raw.StackProgram {
  return wasm.compileStack(gpu, configs, batchSize);
}

/** Every model's `init`: model k from `keys[k]` (pass the same key to give all the same start). */
export function initStack(program: raw.StackProgram, keys: Key[]): raw.StackState {
  const flat = new Uint32Array(keys.length * 3);
  keys.forEach((k, i) => {
    if (k?.length !== 2 && k?.length !== 3) {
      throw new Error(`key ${i}: a PRNG key is a Uint32Array of length 2 (or 3 with its mode), got ${k?.length ?? String(k)}`);
    }
    flat.set(k, 3 * i);
  });
  return wasm.initStack(program, flat);
}

/** Per-model metrics of a step, still on the GPU: read many at once with `readStackMetrics`. */
export type PendingStackMetrics = raw.StackMetrics;

/**
 * One step of every model on `batch`. Consumes `state` (its GPU buffers are updated in place,
 * like JAX's donated arguments): use the returned state; the old one throws if used again.
 */
export function stackTrainStep(state: raw.StackState, batch: raw.StackBatch): { state: raw.StackState; metrics: PendingStackMetrics } {
  const out = wasm.stackTrainStep(state, batch);
  try {
    return { state: out.state, metrics: out.metrics[0]! };
  } finally {
    out.free(); // `state` stays a shell that says it was consumed if used again
  }
}

/** `stackTrainStep` over many batches with one GPU submit per 64 steps (JAX's `scan`); the batches are consumed. */
export function stackTrainSteps(state: raw.StackState, batches: raw.StackBatch[]): { state: raw.StackState; metrics: PendingStackMetrics[] } {
  const out = wasm.stackTrainSteps(state, batches);
  try {
    return { state: out.state, metrics: out.metrics };
  } finally {
    out.free(); // `state` stays a shell that says it was consumed if used again
  }
}

/** Per-model loss and accuracy on `batch`; the state is unchanged. */
export function stackEvalStep(state: raw.StackState, batch: raw.StackBatch): PendingStackMetrics {
  return wasm.stackEvalStep(state, batch);
}

/** `stackEvalStep` for many batches, one GPU submit per 64; the batches are consumed. */
export function stackEvalSteps(state: raw.StackState, batches: raw.StackBatch[]): PendingStackMetrics[] {
  return wasm.stackEvalSteps(state, batches);
}

/** A stack from checkpoint files, one per model of `program` (all at the same step). */
export function stackFromCheckpoints(program: raw.StackProgram, files: Uint8Array[]): raw.StackState {
  return wasm.stackFromCheckpoints(program, files);
}

/** Reads many steps' metrics with one GPU readback: `[step][model]`. */
export function readStackMetrics(pending: PendingStackMetrics[]): Promise<MetricValues[][]> {
  return wasm.readStackMetrics(pending);
}

/**
 * `f(x)` and `f'(x)` of each activation at every `x` as the compiled stack's own WGSL computes
 * them (the code its train step runs), on `gpu`.
 */
export async function stackActivationCurves(gpu: raw.Gpu, activations: Activation[], xs: Float32Array): Promise<{ f: Float32Array; df: Float32Array }[]> {
  const flat = await wasm.stackActivationCurves(gpu, activations, xs);
  return activations.map((_, k) => ({ f: flat[2 * k]!, df: flat[2 * k + 1]! }));
}

/** Every model's predicted classes on `batch`, one `Uint32Array` per model. */
export function stackPredict(state: raw.StackState, batch: raw.StackBatch): Promise<Uint32Array[]> {
  return wasm.stackPredict(state, batch);
}
