// The run settings the form edits: defaults, validation with a message per field, and the
// crate's TrainConfig for one activation. Pure, unit-tested (config.test.ts also holds the
// defaults to the crate's `defaultConfig()`).
import { ACTIVATIONS, type Activation, type Complete, type TrainConfig } from '../sdk/types.js';

export interface RunConfig {
  activations: Activation[];
  epochs: number;
  /** Early stopping: stop after this many epochs without a better validation accuracy. */
  patience: number;
  batchSize: number;
  learningRate: number;
  hidden: number[];
  init: 'torch_default' | 'lecun_uniform';
  optimizer: 'sgd' | 'adam';
  seed: number;
  /** Images kept per split (train, val, test): smaller is faster. */
  limit: number;
}

/** The tutorial's setup, with fewer epochs so a first run finishes in minutes on a laptop GPU. */
export const DEFAULT_RUN: RunConfig = {
  activations: [...ACTIVATIONS],
  epochs: 5,
  patience: 7,
  batchSize: 256,
  learningRate: 0.01,
  hidden: [512, 256, 256, 128],
  init: 'torch_default',
  optimizer: 'sgd',
  seed: 42,
  limit: 50000,
};

/** The form's fields as strings (what `FormData` gives), activations as a list. */
export type FormValues = Partial<Record<Exclude<keyof RunConfig, 'activations'>, string>> & { activations?: string[] };

export type Parsed = { ok: true; config: RunConfig } | { ok: false; errors: Partial<Record<keyof RunConfig, string>> };

function integer(text: string | undefined, min: number, max: number, what: string): number | string {
  const s = (text ?? '').trim();
  if (!/^\d+$/.test(s)) return `${what} must be a whole number from ${min} to ${max}`;
  const n = Number(s);
  return n >= min && n <= max ? n : `${what} must be from ${min} to ${max}`;
}

/** Parses and checks the form; every problem is reported, each on its field. */
export function parseRunConfig(v: FormValues): Parsed {
  const errors: Partial<Record<keyof RunConfig, string>> = {};
  // A string result is the field's error message (every field taken this way is numeric).
  const take = <T>(k: keyof RunConfig, r: T | string): T | undefined => {
    if (typeof r !== 'string') return r;
    errors[k] = r;
    return undefined;
  };
  const activations = (v.activations ?? []).filter((a): a is Activation => (ACTIVATIONS as readonly string[]).includes(a));
  if (activations.length === 0) errors.activations = 'choose at least one activation function';
  const epochs = take('epochs', integer(v.epochs, 1, 50, 'Epochs'));
  const patience = take('patience', integer(v.patience, 1, 50, 'Patience'));
  const batchSize = take('batchSize', integer(v.batchSize, 1, 4096, 'Batch size'));
  const seed = take('seed', integer(v.seed, 0, 2 ** 32 - 1, 'Seed'));
  const limit = take('limit', integer(v.limit, 1, 50000, 'Images per split'));
  const lr = Number((v.learningRate ?? '').trim());
  const learningRate = take('learningRate', (v.learningRate ?? '').trim() !== '' && Number.isFinite(lr) && lr > 0 && lr <= 10
    ? lr : 'Learning rate must be a number above 0 (at most 10)');
  const parts = (v.hidden ?? '').split(/[\s,]+/).filter((s) => s !== '');
  const sizes = parts.map((p) => integer(p, 1, 4096, 'Each hidden size'));
  const bad = sizes.find((s) => typeof s === 'string');
  const hidden = take('hidden', parts.length === 0 ? 'Hidden sizes: give at least one, e.g. 512, 256'
    : parts.length > 8 ? 'Hidden sizes: at most 8 layers' : bad ?? (sizes as number[]));
  const init = v.init === 'lecun_uniform' || v.init === 'torch_default' ? v.init : undefined;
  if (!init) errors.init = 'Initializer must be torch_default or lecun_uniform';
  const optimizer = v.optimizer === 'sgd' || v.optimizer === 'adam' ? v.optimizer : undefined;
  if (!optimizer) errors.optimizer = 'Optimizer must be sgd or adam';
  if (batchSize !== undefined && limit !== undefined && batchSize > limit) {
    errors.batchSize = `Batch size (${batchSize}) is larger than the images per split (${limit})`;
  }
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return {
    ok: true,
    config: { activations, epochs: epochs!, patience: patience!, batchSize: batchSize!, learningRate: learningRate!,
      hidden: hidden!, init: init!, optimizer: optimizer!, seed: seed!, limit: limit! },
  };
}

/** The form values that show `c` (the inverse of `parseRunConfig`). */
export function formValuesOf(c: RunConfig): Required<FormValues> {
  return {
    activations: [...c.activations], epochs: String(c.epochs), patience: String(c.patience),
    batchSize: String(c.batchSize), learningRate: String(c.learningRate), hidden: c.hidden.join(', '),
    init: c.init, optimizer: c.optimizer, seed: String(c.seed), limit: String(c.limit),
  };
}

/**
 * The crate's configuration for one activation of a run: what the form sets, over the crate's
 * defaults (`defaultConfig()`: the input and output sizes, SGD's momentum).
 */
export function trainConfigOf(c: RunConfig, activation: Activation, defaults: Complete<TrainConfig>): TrainConfig {
  const sgd = defaults.optimizer.kind === 'sgd' ? defaults.optimizer : { kind: 'sgd' as const, learning_rate: c.learningRate, momentum: 0.9 };
  return {
    mlp: { ...defaults.mlp, hidden: c.hidden },
    activation,
    kernel_init: { kind: c.init },
    // PyTorch's default draws biases like kernels; Flax's lecun_uniform goes with zero biases.
    bias_init: c.init === 'torch_default' ? 'fan_in_uniform' : 'zeros',
    optimizer: c.optimizer === 'sgd' ? { ...sgd, learning_rate: c.learningRate } : { kind: 'adam', learning_rate: c.learningRate },
  };
}
