// The benchmark page: the tutorial MLP (784-512-256-256-128-10, ReLU, batch 256, SGD momentum
// 0.9, lr 0.01, U(±1/sqrt(fan_in)) init) trained on real FashionMNIST batches by ActLab and by
// TensorFlow.js's webgpu backend in the same page, on the same GPU. Both keep the training
// images on the GPU and gather each batch there; neither reads anything back until the end of
// a timed run, which waits for the queue. bench/run.ts drives it and prints the numbers.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgpu';
// tfjs-core alone registers no gradients (the tfjs umbrella package does): optimizers need them.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { Gpu, key, load, loadFashionMnist, split, init, trainStep, type PendingMetrics } from '../web/sdk/index.js';
import type { Epoch, GpuSplit, TrainState } from '../web/sdk/index.js';

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

function actlab(gpu: Gpu, train: GpuSplit): Contender {
  const keys = split(key(0), 2);
  const [initKey, orderKey] = [keys.slice(0, 2), keys.slice(2)];
  let state: TrainState | undefined;
  let epoch: Epoch = train.epoch(orderKey, BATCH);
  let cursor = 0;
  let last: PendingMetrics | undefined;
  const steps = (n: number): void => {
    for (let i = 0; i < n; i++) {
      if (cursor === epoch.batches) {
        epoch.free();
        epoch = train.epoch(orderKey, BATCH);
        cursor = 0;
      }
      const batch = epoch.batch(cursor++);
      const out = trainStep(state!, batch);
      batch.free();
      state!.free();
      last?.free();
      state = out.state;
      last = out.metrics;
    }
  };
  const prepare = (): void => {
    state = init(gpu, initKey, { activation: 'relu' }); // the defaults: the tutorial's MLP, PyTorch's init, SGD
  };
  const finish = async (): Promise<number> => {
    const { loss } = await last!.read();
    last = undefined;
    return loss;
  };
  return contender(prepare, steps, finish);
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
  tfBackend: string;
  trainImages: number;
}

declare global {
  interface Window {
    bench: {
      setup(dataUrl: string): Promise<BenchSetup>;
      contenders: Record<'actlab' | 'tfjs', Contender>;
    };
  }
}

window.bench = {
  contenders: {} as Record<'actlab' | 'tfjs', Contender>,
  async setup(dataUrl: string): Promise<BenchSetup> {
    await load();
    const gpu = await Gpu.create();
    const data = await loadFashionMnist(dataUrl);
    const trainImages = data.len('train');
    const all = Uint32Array.from({ length: trainImages }, (_, i) => i);
    const train = data.upload(gpu, 'train');
    await tf.setBackend('webgpu');
    await tf.ready();
    window.bench.contenders = {
      actlab: actlab(gpu, train),
      tfjs: tensorflow(data.pixels('train', all), data.labels('train', all)),
    };
    // GPUAdapter.info is newer than the WebGPU types TF.js pins.
    type Info = { info?: { vendor: string; architecture: string; description: string } };
    const { info } = ((await navigator.gpu.requestAdapter()) ?? {}) as Info;
    const adapter = info ? `${info.vendor} ${info.architecture} ${info.description}`.trim() : 'unknown';
    log(`ready: ${trainImages} training images on the GPU (${adapter})`);
    return { adapter, tfBackend: tf.getBackend(), trainImages };
  },
};
