// The jax-js contender (@jax-js/jax, "JAX's API in the browser") for the benchmark page: the
// tutorial MLP (784-512-256-256-128-10, ReLU, raw logits, softmax cross-entropy averaged over
// the batch, batch 256, SGD momentum 0.9 (optax.sgd: t = g + 0.9 t; p -= 0.01 t), lr 0.01,
// U(±1/sqrt(fan_in)) init) on its 'webgpu' or 'wasm' device. Like the others in bench/main.ts it
// keeps the normalised training images on the device once and gathers each batch there from a
// shuffled index array; the whole train step (gather, loss, gradients, accuracy, momentum update)
// is one `jit`-compiled function, traced and compiled on the first step and replayed after.
//
// jax-js's memory model: every function, `jit`-compiled ones included, takes ownership of its
// Array arguments (each use consumes one reference); `a.ref` adds one, `a.dispose()` drops one.
// Its operations are lazy: a call only records pending kernels, which hold their input and
// output buffers until they are submitted, and only a read (`data()`, `dataSync()`,
// `gpuBufferSync()`, `blockUntilReady()`) submits them. Left alone, n steps would keep every
// intermediate buffer of all n steps alive until the final read (and each step would drag the
// whole chain of earlier steps' pending kernels along), so each step is submitted as it is
// issued (see `submit`); that reads nothing back from the GPU.
import { blockUntilReady, init, jit, nn, numpy as np, valueAndGrad } from '@jax-js/jax';
import type { Contender, RunTime } from './main.js';

const BATCH = 256;
const LAYERS = [784, 512, 256, 256, 128, 10];
const LR = 0.01;
const MOMENTUM = 0.9;

// A `type` alias, not an interface: jax-js's JsTree typing needs one.
type Params = { w: np.Array; b: np.Array }[];
type StepOut = { params: Params; mom: Params; loss: np.Array; acc: np.Array };

/** Logits of the MLP: ReLU after every layer but the last. Consumes `params` and `x`. */
function forward(params: Params, x: np.Array): np.Array {
  let h = x;
  params.forEach(({ w, b }, l) => {
    h = np.matmul(h, w).add(b);
    if (l < params.length - 1) h = nn.relu(h);
  });
  return h;
}

/** Softmax cross-entropy averaged over the batch, with the batch accuracy as auxiliary output. */
function lossFn(params: Params, x: np.Array, y: np.Array): [np.Array, np.Array] {
  const logits = forward(params, x);
  const loss = nn.logSoftmax(logits.ref).mul(nn.oneHot(y.ref, 10)).sum().mul(-1 / BATCH);
  const acc = np.argmax(logits, 1).equal(y).astype(np.float32).mean();
  return [loss, acc];
}

/** One SGD-with-momentum step on the batch `xs[idx]`, `ys[idx]`. Consumes every argument. */
function trainStep(params: Params, mom: Params, xs: np.Array, ys: np.Array, idx: np.Array): StepOut {
  const x = np.take(xs, idx.ref, 0);
  const y = np.take(ys, idx, 0);
  const [[loss, acc], grads] = valueAndGrad(lossFn, { hasAux: true })(
    params.map(({ w, b }) => ({ w: w.ref, b: b.ref })),
    x,
    y,
  );
  // optax.sgd(lr, momentum): t = g + momentum * t; p = p - lr * t.
  const newMom: Params = grads.map(({ w, b }, l) => ({
    w: w.add(mom[l]!.w.mul(MOMENTUM)),
    b: b.add(mom[l]!.b.mul(MOMENTUM)),
  }));
  const newParams: Params = params.map(({ w, b }, l) => ({
    w: w.sub(newMom[l]!.w.ref.mul(LR)),
    b: b.sub(newMom[l]!.b.ref.mul(LR)),
  }));
  return { params: newParams, mom: newMom, loss, acc };
}

/** Deterministic host RNG for the initial weights and the per-epoch shuffles (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** jax-js on `backend` training the tutorial MLP on `images` (n*784 raw bytes) and `labels`. */
export async function jaxjs(backend: 'webgpu' | 'wasm', images: Uint8Array, labels: Uint8Array): Promise<Contender> {
  const available = await init(backend);
  if (!available.includes(backend)) throw new Error(`jax-js: the ${backend} device is not available here`);
  const n = labels.length;
  if (images.length !== n * 784) throw new Error(`jax-js: ${images.length} pixels for ${n} labels`);
  if (n < BATCH) throw new Error(`jax-js: ${n} images, fewer than one batch of ${BATCH}`);
  const device = backend;

  // The dataset on the device once, normalised as the tutorial does ((x/255 - 0.5)/0.5), with
  // int32 labels. Arrays created with `device` are committed to it, so the jitted step runs there.
  const pixels = new Float32Array(n * 784);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (images[i]! / 255 - 0.5) / 0.5;
  const xs = np.array(pixels, { shape: [n, 784], device });
  const ys = np.array(Int32Array.from(labels), { shape: [n], dtype: np.int32, device });

  const random = rng(0);
  const perEpoch = Math.floor(n / BATCH);
  const order = Int32Array.from({ length: n }, (_, i) => i);
  let cursor = 0;
  const nextIndices = (): np.Array => {
    if (cursor % perEpoch === 0) {
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        const t = order[i]!;
        order[i] = order[j]!;
        order[j] = t;
      }
    }
    const at = (cursor++ % perEpoch) * BATCH;
    return np.array(order.slice(at, at + BATCH), { dtype: np.int32, device });
  };

  let step: ((p: Params, m: Params, xs: np.Array, ys: np.Array, idx: np.Array) => StepOut) | undefined;
  let params: Params = [];
  let mom: Params = [];
  let lastLoss: np.Array | undefined;
  let lastAcc: np.Array | undefined;
  let lastValue = NaN;

  const build = (): void => {
    const uniform = (count: number, bound: number): Float32Array<ArrayBuffer> =>
      Float32Array.from({ length: count }, () => (2 * random() - 1) * bound);
    params = LAYERS.slice(1).map((out, i) => {
      const fanIn = LAYERS[i]!;
      const bound = 1 / Math.sqrt(fanIn);
      return {
        w: np.array(uniform(fanIn * out, bound), { shape: [fanIn, out], device }),
        b: np.array(uniform(out, bound), { shape: [out], device }),
      };
    });
    mom = params.map(({ w, b }) => ({ w: np.zeros(w.shape, { device }), b: np.zeros(b.shape, { device }) }));
    step = jit(trainStep);
  };

  /** Issues one train step: the dataset is passed by reference, the state and indices are moved. */
  const issue = (): void => {
    const out = step!(params, mom, xs.ref, ys.ref, nextIndices());
    params = out.params;
    mom = out.mom;
    lastLoss?.dispose();
    lastAcc?.dispose();
    lastLoss = out.loss;
    lastAcc = out.acc;
  };

  /** Submits the last step's pending kernels now, without waiting for them or reading anything:
   * all of a jitted call's outputs share its pending kernels, so flushing the loss flushes the
   * step. On WebGPU `gpuBufferSync()` just encodes and submits them (the pipelines were compiled
   * by `warm()`) and hands back the loss's GPUBuffer; the wasm device has no queue, it runs the
   * kernels on this thread as they are submitted, so there `dataSync()` (a 4-byte copy out of the
   * wasm memory afterwards) is the synchronous submit. Both consume a reference, hence `.ref`. */
  const submit = (a: np.Array): void => {
    if (backend === 'webgpu') a.ref.gpuBufferSync();
    else a.ref.dataSync();
  };

  const readLoss = async (): Promise<number> => (await lastLoss!.ref.data())[0] ?? NaN;

  const run = async (count: number): Promise<RunTime> => {
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      issue();
      submit(lastLoss!);
    }
    const hostMs = performance.now() - t0;
    lastValue = await readLoss();
    return { ms: performance.now() - t0, hostMs };
  };

  return {
    warm: async () => {
      const t0 = performance.now();
      build();
      // The first step traces and compiles the jitted step; reading its loss asynchronously lets
      // jax-js compile the kernels with its async path (createComputePipelineAsync on WebGPU).
      issue();
      lastValue = await readLoss();
      const ms = performance.now() - t0;
      // Every output done too (wasm with worker threads finishes kernels out of this thread).
      await blockUntilReady({ params, mom });
      return ms;
    },
    run,
    loss: () => Promise.resolve(lastValue),
  };
}
