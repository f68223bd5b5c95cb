// A run's models as one compiled stack on the GPU (the crate's `jit`, JAX's `vmap` over
// models): the `Engine` that app/trainer.ts drives. Batches are gathered on the GPU from the
// uploaded bytes; a chunk of steps is one submit, and its losses one readback.
import {
  compileStack, defaultConfig, foldIn, gpu as gpuApi, initStack, readStackMetrics, stackEvalSteps, stackFromCheckpoints, stackTrainSteps,
  type Api, type Gpu, type Key, type StackData, type StackEpoch, type StackProgram, type StackState,
} from '../sdk/index.js';
import { trainConfigOf, type ActivationName, type RunConfig } from './config.js';
import type { Engine } from './trainer.js';

/** The splits of a run, uploaded once for compiled steps. */
export interface StackSplits { train: StackData; val: StackData; test: StackData }

/** Where the keys of a run come from: one root key per seed, in the run's PRNG mode. Every
 * activation starts from the same params and sees the same batch order, so curves differ only
 * by activation. As in the notebook, the params come from the root key itself (`net.init(
 * PRNGKey(42), ...)`: seed 42's are the notebook's); the batch order from its second split. */
export interface RunKeys { root: Key; init: Key; order: Key }

export function runKeys(api: Pick<Api, 'key' | 'splitKeys'>, seed: number, prng: RunConfig['prng'] = 'default'): RunKeys {
  const root = api.key(seed, { legacy: prng === 'legacy' });
  return { root, init: root, order: api.splitKeys(root, 2)[1]! };
}

/** A stack of `activations`, freshly initialised or continuing from their checkpoint `files`. */
export function openStack(gpu: Gpu, splits: StackSplits, cfg: RunConfig, activations: readonly ActivationName[], files?: Uint8Array[]): Engine {
  const keys = runKeys(gpuApi, cfg.seed, cfg.prng);
  const program = compileStack(gpu, activations.map((a) => trainConfigOf(cfg, a, defaultConfig())), cfg.batchSize);
  try {
    const state = files ? stackFromCheckpoints(program, files) : initStack(program, activations.map(() => keys.init));
    return new StackEngine(gpu, splits, cfg, keys, activations, program, state);
  } catch (e) {
    program.free();
    throw e;
  }
}

class StackEngine implements Engine {
  readonly stepsPerEpoch: number;
  private epoch: { n: number; order: StackEpoch } | null = null;

  constructor(
    private readonly gpu: Gpu, private readonly splits: StackSplits, private readonly cfg: RunConfig, private readonly keys: RunKeys,
    readonly activations: readonly ActivationName[], private readonly program: StackProgram, private state: StackState,
  ) {
    this.stepsPerEpoch = Math.floor(splits.train.len / cfg.batchSize);
  }

  train(epoch: number, from: number, n: number): Promise<number[][]> {
    if (this.epoch?.n !== epoch) {
      this.epoch?.order.free();
      this.epoch = { n: epoch, order: this.splits.train.epoch(foldIn(this.keys.order, epoch), this.cfg.batchSize) };
    }
    const { order } = this.epoch;
    const out = stackTrainSteps(this.state, Array.from({ length: n }, (_, i) => order.batch(from + i)));
    this.state = out.state;
    return readStackMetrics(out.metrics).then((steps) => steps.map((models) => models.map((m) => m.loss)));
  }

  async evaluate(): Promise<{ val: number[]; test: number[] }> {
    // Both splits in one readback; each chunk's accuracy weighted by its size (the last may be smaller).
    const val = this.splits.val.chunks(this.cfg.batchSize);
    const test = this.splits.test.chunks(this.cfg.batchSize);
    const sizes = [...val, ...test].map((c) => c.len);
    const read = await readStackMetrics(stackEvalSteps(this.state, [...val, ...test]));
    const mean = (from: number, to: number, k: number, n: number) =>
      read.slice(from, to).reduce((s, m, i) => s + m[k]!.accuracy * sizes[from + i]!, 0) / n;
    return {
      val: this.activations.map((_, k) => mean(0, val.length, k, this.splits.val.len)),
      test: this.activations.map((_, k) => mean(val.length, read.length, k, this.splits.test.len)),
    };
  }

  checkpoint(k: number, meta: string): Promise<Uint8Array> {
    return this.state.checkpoint(k, this.keys.root, meta);
  }

  async narrow(keep: number[], files: Uint8Array[]): Promise<Engine> {
    const next = openStack(this.gpu, this.splits, this.cfg, keep.map((k) => this.activations[k]!), files);
    this.free();
    return next;
  }

  free(): void {
    this.epoch?.order.free();
    this.epoch = null;
    this.state.free();
    this.program.free();
  }
}
