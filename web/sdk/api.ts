// The Burn path's API, bound to one of the two wasm modules: the page's (WebGPU, pkg/actlab.js)
// or the CPU one (Flex with SIMD128, pkg/cpu/actlab_cpu.js, loaded by `loadCpu`). Both are
// built from the same crate with the same bindings, so they export the same functions and
// classes; only the device differs (`Gpu` or `Cpu`). Objects of one module cannot be passed to
// the other: use the API object that made them.
import type * as GpuWasm from '../../pkg/actlab.js';
import type * as CpuWasm from '../../pkg/cpu/actlab_cpu.js';
import { cacheFashionFiles, loadFashionFiles, type LoadOptions } from './loader.js';
import type { Activation, ActivationCheck, Complete, Key, MetricValues, TrainConfig } from './types.js';

/** A device of either module: a `Gpu` (page's module) or a `Cpu` (CPU module). */
export type Device = GpuWasm.Gpu | CpuWasm.Cpu;

/** `A`'s device parameters as either module's device. */
type Widen<A extends unknown[]> = { [I in keyof A]: A[I] extends GpuWasm.Gpu ? Device : A[I] };

/** FashionMNIST as parsed by either module: `FashionData` with its device parameters (`upload`,
 * `batch`) taking that module's device. */
export type DeviceData = {
  [K in keyof GpuWasm.FashionData]: GpuWasm.FashionData[K] extends (...a: infer A) => infer R
    ? (...a: Widen<A>) => R extends GpuWasm.FashionData ? DeviceData : R
    : GpuWasm.FashionData[K];
};

/** The module behind an API object (the CPU module's, typed as the page's: same exports). */
export type Wasm = typeof GpuWasm;

/** Metrics still on the device: `read()` once, or read many at once with `readMetrics`. */
export type PendingMetrics = GpuWasm.Metrics;

export type Api = ReturnType<typeof bind>;

const arrays = (a: GpuWasm.Arrays) => a.read();

export function bind(wasm: Wasm, kind: 'gpu' | 'cpu') {
  // The device's class is this module's; the others' signatures are the same in both.
  const dev = (d: Device) => d as GpuWasm.Gpu;
  return {
    /** Which device this module trains on. */
    kind,
    /** This module's device (the GPU: WebGPU's adapter; the CPU: this thread). */
    createDevice(): Promise<Device> {
      return kind === 'gpu' ? wasm.Gpu.create() : (wasm as unknown as typeof CpuWasm).Cpu.create();
    },
    key: wasm.key,
    split: wasm.split,
    /**
     * `split(key, n)` as an array of keys, each of `key`'s mode (2 words today's JAX, 3 for JAX
     * before 0.5), so `split`'s flat result is cut at the right places.
     */
    splitKeys(key: Key, n: number): Key[] {
      const flat = wasm.split(key, n);
      const w = key.length;
      return Array.from({ length: n }, (_, i) => flat.slice(w * i, w * (i + 1)));
    },
    foldIn: wasm.foldIn,
    permutation: wasm.permutation,
    FashionData: wasm.FashionData,

    /** The tutorial's configuration with every field present: what `init` uses for a field left out. */
    defaultConfig(): Complete<TrainConfig> {
      return wasm.defaultConfig() as Complete<TrainConfig>;
    },
    /** `config` with every missing field filled in and checked as `init` checks it; throws what is wrong. */
    fullConfig(config: TrainConfig = {}): Complete<TrainConfig> {
      return wasm.fullConfig(config) as Complete<TrainConfig>;
    },
    /** `TrainState.create(params = init(key, config), tx)` on `device`. */
    init(device: Device, key: Key, config: TrainConfig = {}): GpuWasm.TrainState {
      return wasm.init(dev(device), key, config);
    },
    /** Reads many pending metrics with one readback (each readback waits for the device). */
    readMetrics(pending: PendingMetrics[]): Promise<MetricValues[]> {
      return wasm.readMetrics(pending);
    },
    /** One step; `state` stays valid. Returns the new state and the batch's metrics. */
    trainStep(state: GpuWasm.TrainState, batch: GpuWasm.Batch): { state: GpuWasm.TrainState; metrics: PendingMetrics } {
      const out = wasm.trainStep(state, batch);
      return { state: out.state, metrics: out.metrics };
    },
    /** Loss and accuracy of `state` on `batch`. */
    evalStep(state: GpuWasm.TrainState, batch: GpuWasm.Batch): PendingMetrics {
      return wasm.evalStep(state, batch);
    },
    /** The predicted class of every example of `batch`. */
    predict(state: GpuWasm.TrainState, batch: GpuWasm.Batch): Promise<Uint32Array> {
      return wasm.predict(state, batch).read();
    },

    /**
     * Fetches FashionMNIST from `baseUrl` (the four official `.gz` files), parses it and splits the
     * 60k training images 50k/10k into train/val with `splitKey` (default `key(0)`). With
     * `opts.cache`, a parsed set is stored and later loads skip the network.
     */
    async loadFashionMnist(baseUrl: string, opts: LoadOptions & { splitKey?: Key } = {}): Promise<DeviceData> {
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
      return data as DeviceData;
    },

    /**
     * A checkpoint file back on `device`. Throws a clear error for a file that is not a checkpoint,
     * is truncated or corrupt, has another format version, or does not fit its configuration.
     */
    restoreCheckpoint(device: Device, bytes: Uint8Array): { state: GpuWasm.TrainState; key: Key; meta: string } {
      const r = wasm.restoreCheckpoint(dev(device), bytes);
      try {
        return { state: r.state, key: r.key, meta: r.meta };
      } finally {
        r.free();
      }
    },

    /** `f(x)` and `f'(x)` of an activation at every `x`, on the device as training computes them. */
    async activationCurve(device: Device, activation: Activation, xs: Float32Array): Promise<{ f: Float32Array; df: Float32Array }> {
      const [f, df] = await arrays(wasm.activationCurve(dev(device), activation, xs));
      return { f: f!, df: df! };
    },
    /**
     * Checks an activation (a built-in's name, or `{ name?, formula, params? }`) without throwing:
     * its derivative as a formula and a warning where it is not finite, or the error and the
     * column it points at. Cheap: for every keystroke of an editor.
     */
    checkActivation(activation: Activation): ActivationCheck {
      return wasm.checkActivation(activation);
    },
    /** `f(x)` and `f'(x)` in float64 from the formula itself (for plots); throws for a bad one. */
    activationValues(activation: Activation, xs: Float64Array): { f: Float64Array; df: Float64Array } {
      return wasm.activationValues(activation, xs);
    },
    /**
     * "Continue in JAX": the model's parameters (`flax.serialization.to_bytes`) and a Python script
     * that rebuilds the same network in Flax (layers, activation formula, initializer, PRNG mode),
     * loads them from `paramsFile` and prints the test accuracy (`testAccuracy`, ActLab's, quoted).
     */
    async exportJax(state: GpuWasm.TrainState, options: { legacy?: boolean; paramsFile?: string; testAccuracy?: number } = {}): Promise<{ params: Uint8Array; script: string }> {
      const params = await state.exportFlax();
      return { params, script: wasm.jaxScript(state.config, { paramsFile: 'params.msgpack', ...options }) };
    },
    /** The formula language, in one sentence. */
    activationGrammar(): string {
      return wasm.activationGrammar();
    },
    /** Gradient flow: `|dLoss/dKernel|` of each layer on `batch` (flattened kernels). */
    gradientMagnitudes(state: GpuWasm.TrainState, batch: GpuWasm.Batch): Promise<Float32Array[]> {
      return arrays(wasm.gradientMagnitudes(state, batch));
    },
    /** Each hidden layer's outputs on `batch` (flattened `[n * width]`). */
    hiddenActivations(state: GpuWasm.TrainState, batch: GpuWasm.Batch): Promise<Float32Array[]> {
      return arrays(wasm.hiddenActivations(state, batch));
    },
    /** Per hidden layer, how many units output 0 for every example of `splits` (one or two:
     * the training and validation images are the notebook's 60,000). */
    async deadCounts(state: GpuWasm.TrainState, splits: GpuWasm.DeviceSplit[]): Promise<number[]> {
      const a = splits[0];
      if (!a) throw new Error('deadCounts needs a split');
      return (await arrays(wasm.deadCounts(state, a, splits[1] ?? a))).map((x) => Math.round(x[0]!));
    },
    /** Per hidden layer, the fraction of units that output 0 for every example of `split`. */
    async deadFractions(state: GpuWasm.TrainState, split: GpuWasm.DeviceSplit): Promise<number[]> {
      return (await arrays(wasm.deadFractions(state, split))).map((a) => a[0]!);
    },
  };
}
