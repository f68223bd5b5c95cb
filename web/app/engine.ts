// A run's models as one compiled stack on the GPU (the crate's `jit`, JAX's `vmap` over
// models): the `Engine` that app/trainer.ts drives. Batches are gathered on the GPU from the
// uploaded bytes; a chunk of steps is one submit, and its losses one readback.
import {
  compileStack, defaultConfig, foldIn, gpu as gpuApi, initStack, readStackMetrics, stackEvalSteps, stackFromCheckpoints, stackTrainSteps,
  type Api, type Gpu, type Key, type StackData, type StackEpoch, type StackProgram, type StackState,
} from '../sdk/index.js';
import { modelOf, trainConfigOf, type ActivationName, type RunConfig } from './config.js';
import type { Engine, StepMetrics } from './trainer.js';

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

/** Model `model`'s initial key: its seed's root key (seeds differ in their start, not their
 * batches, which the run's first seed orders). */
export function initKeyOf(api: Pick<Api, 'key'>, cfg: RunConfig, model: ActivationName): Key {
  return api.key(modelOf(cfg, model).seed, { legacy: cfg.prng === 'legacy' });
}

/** A stack of `activations`, freshly initialised or continuing from their checkpoint `files`. */
export function openStack(gpu: Gpu, splits: StackSplits, cfg: RunConfig, activations: readonly ActivationName[], files?: Uint8Array[]): Engine {
  const keys = runKeys(gpuApi, cfg.seed, cfg.prng);
  const program = compileStack(gpu, activations.map((a) => trainConfigOf(cfg, a, defaultConfig())), cfg.batchSize);
  try {
    const state = files ? stackFromCheckpoints(program, files) : initStack(program, activations.map((m) => initKeyOf(gpuApi, cfg, m)));
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

  train(epoch: number, from: number, n: number): Promise<StepMetrics> {
    if (this.epoch?.n !== epoch) {
      this.epoch?.order.free();
      this.epoch = { n: epoch, order: this.splits.train.epoch(foldIn(this.keys.order, epoch), this.cfg.batchSize) };
    }
    const { order } = this.epoch;
    const out = stackTrainSteps(this.state, Array.from({ length: n }, (_, i) => order.batch(from + i)));
    this.state = out.state;
    return readStackMetrics(out.metrics).then((steps) => ({
      losses: steps.map((models) => models.map((m) => m.loss)),
      accuracies: steps.map((models) => models.map((m) => m.accuracy)),
    }));
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
