// A run's models one by one on the Burn path (`trainStep` per model): the `Engine` of the CPU
// module, where there is no GPU to compile a stack for. Every model takes the same batches in
// the same order and starts from the same key as in a stack, so a run gives the same curves
// on either device (to float rounding).
import type { Api, Device } from '../sdk/api.js';
import type { DeviceSplit, Epoch, TrainState } from '../sdk/index.js';
import { trainConfigOf, type ActivationName, type RunConfig } from './config.js';
import { initKeyOf, runKeys, type RunKeys } from './engine.js';
import type { Engine, StepMetrics } from './trainer.js';

/** The splits of a run, uploaded once to the device. */
export interface ModelSplits { train: DeviceSplit; val: DeviceSplit; test: DeviceSplit }

/** The models of `activations`, freshly initialised or continuing from their checkpoint `files`. */
export function openModels(api: Api, device: Device, splits: ModelSplits, cfg: RunConfig, activations: readonly ActivationName[], files?: Uint8Array[]): Engine {
  const keys = runKeys(api, cfg.seed, cfg.prng);
  const states: TrainState[] = [];
  try {
    activations.forEach((a, k) => states.push(files
      ? api.restoreCheckpoint(device, files[k]!).state
      : api.init(device, initKeyOf(api, cfg, a), trainConfigOf(cfg, a, api.defaultConfig()))));
  } catch (e) {
    states.forEach((s) => s.free());
    throw e;
  }
  return new ModelsEngine(api, device, splits, cfg, keys, activations, states);
}

/** Lets the thread take its messages (a stop, say): the CPU computes inside each call, so the
 * metrics' promises settle at once and a loop of them would never yield. */
const yieldToEvents = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

class ModelsEngine implements Engine {
  readonly stepsPerEpoch: number;
  private epoch: { n: number; order: Epoch } | null = null;

  constructor(
    private readonly api: Api, private readonly device: Device, private readonly splits: ModelSplits, private readonly cfg: RunConfig,
    private readonly keys: RunKeys, readonly activations: readonly ActivationName[], private readonly states: TrainState[],
  ) {
    this.stepsPerEpoch = Math.floor(splits.train.len / cfg.batchSize);
  }

  async train(epoch: number, from: number, n: number): Promise<StepMetrics> {
    if (this.epoch?.n !== epoch) {
      this.epoch?.order.free();
      this.epoch = { n: epoch, order: this.splits.train.epoch(this.api.foldIn(this.keys.order, epoch), this.cfg.batchSize) };
    }
    const pending = [];
    for (let i = 0; i < n; i++) {
      const batch = this.epoch.order.batch(from + i);
      try {
        for (let k = 0; k < this.states.length; k++) {
          const out = this.api.trainStep(this.states[k]!, batch);
          this.states[k]!.free();
          this.states[k] = out.state;
          pending.push(out.metrics);
        }
      } finally {
        batch.free();
      }
    }
    const read = await this.api.readMetrics(pending);
    await yieldToEvents();
    const m = this.states.length;
    const rows = Array.from({ length: n }, (_, i) => read.slice(i * m, (i + 1) * m));
    return { losses: rows.map((r) => r.map((x) => x.loss)), accuracies: rows.map((r) => r.map((x) => x.accuracy)) };
  }

  async evaluate(): Promise<{ val: number[]; test: number[] }> {
    const accuracy = async (split: DeviceSplit) => {
      const sums = this.states.map(() => 0);
      for (let start = 0; start < split.len; start += this.cfg.batchSize) {
        const size = Math.min(this.cfg.batchSize, split.len - start);
        const batch = split.range(start, size);
        try {
          const read = await this.api.readMetrics(this.states.map((s) => this.api.evalStep(s, batch)));
          read.forEach((r, k) => (sums[k]! += r.accuracy * size));
        } finally {
          batch.free();
        }
        await yieldToEvents();
      }
      return sums.map((s) => s / split.len);
    };
    return { val: await accuracy(this.splits.val), test: await accuracy(this.splits.test) };
  }

  checkpoint(k: number, meta: string): Promise<Uint8Array> {
    return this.states[k]!.checkpoint(this.keys.root, meta);
  }

  /** The kept models' live states are what `files` hold (their checkpoints of this moment):
   * they go on as they are, with the epoch's order, and the others are freed. */
  async narrow(keep: number[]): Promise<Engine> {
    const next = new ModelsEngine(this.api, this.device, this.splits, this.cfg, this.keys, keep.map((k) => this.activations[k]!), keep.map((k) => this.states[k]!));
    next.epoch = this.epoch;
    this.epoch = null;
    this.states.forEach((s, k) => { if (!keep.includes(k)) s.free(); });
    this.states.length = 0;
    return next;
  }

  free(): void {
    this.epoch?.order.free();
    this.epoch = null;
    this.states.forEach((s) => s.free());
    this.states.length = 0;
  }
}
