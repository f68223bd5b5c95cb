// The run settings the form edits: defaults, validation with a message per field, and the
// crate's TrainConfig for one activation. Pure, unit-tested (config.test.ts also holds the
// defaults to the crate's `defaultConfig()`).
import { ACTIVATIONS, BUILTINS, type Activation, type Complete, type TrainConfig } from '../sdk/types.js';

/** The initializers the form offers. */
export type InitName = 'tutorial' | 'torch_default' | 'lecun_uniform';
export const INITS: readonly InitName[] = ['tutorial', 'torch_default', 'lecun_uniform'];

/** An activation of a run, by its name (unique in the run): a built-in's, or one of the user's. */
export type ActivationName = string;

/** A formula and its parameters (the crate's grammar; `ActivationCheck` says what is wrong). */
export interface ActivationDef { formula: string; params: Record<string, number> }

export interface RunConfig {
  activations: ActivationName[];
  /** By name, every activation of the run that is not a built-in with its default parameters:
   * the user's formulas and built-ins with edited parameters (absent in runs saved before). */
  custom?: Record<ActivationName, ActivationDef>;
  epochs: number;
  /** Early stopping: stop after this many epochs without a better validation accuracy. */
  patience: number;
  batchSize: number;
  learningRate: number;
  hidden: number[];
  /** `tutorial`: the notebook's own init_func (every kernel and bias U(±1/√fan_in)); the other
   * two as the crate names them. */
  init: InitName;
  /** The PRNG's mode: `legacy`, the notebook's (JAX before 0.5), or today's `default` (absent in
   * runs saved before: `default`). */
  prng?: 'default' | 'legacy';
  optimizer: 'sgd' | 'adam';
  seed: number;
  /** Seeds per activation (1 to 16; absent in runs saved before: 1): seed, seed + 1, ... each
   * initialise one model of every activation, all in one stack, on the same batches. */
  seeds?: number;
  /** Images kept per split (train, val, test): smaller is faster. */
  limit: number;
}

/** The tutorial's setup (its init and PRNG, seed 42), with fewer epochs so a first run finishes
 * in minutes on a laptop GPU. */
export const DEFAULT_RUN: RunConfig = {
  activations: [...ACTIVATIONS],
  custom: {},
  epochs: 5,
  patience: 7,
  batchSize: 256,
  learningRate: 0.01,
  hidden: [512, 256, 256, 128],
  init: 'tutorial',
  prng: 'legacy',
  optimizer: 'sgd',
  seed: 42,
  seeds: 1,
  limit: 50000,
};

/** The form's fields as strings (what `FormData` gives), activations as a list and the custom
 * ones' definitions as `encodeDef` strings (also how the URL carries them: `fn=...`). */
export type FormValues = Partial<Record<Exclude<keyof RunConfig, 'activations' | 'custom'>, string>>
  & { activations?: string[]; custom?: string[] };

/** The built-ins' names, in the crate's table order. */
export const BUILTIN_NAMES: readonly string[] = BUILTINS.map((b) => b.name);

/** `name:formula;p=v;...` (a formula has no `;`, a name no `:`): one activation as text. */
export function encodeDef(name: ActivationName, d: ActivationDef): string {
  return [`${name}:${d.formula}`, ...Object.entries(d.params).map(([k, v]) => `${k}=${v}`)].join(';');
}

/** `encodeDef`'s inverse, or a message saying what is wrong. */
export function decodeDef(text: string): { name: ActivationName; def: ActivationDef } | string {
  const colon = text.indexOf(':');
  if (colon < 1) return `"${text}" is not name:formula`;
  const [formula, ...ps] = text.slice(colon + 1).split(';');
  const params: Record<string, number> = {};
  for (const p of ps) {
    const [k, v] = p.split('=');
    const value = Number(v);
    if (!k || v === undefined || v.trim() === '' || !Number.isFinite(value)) return `parameter "${p}" is not name=number`;
    params[k.trim()] = value;
  }
  return { name: text.slice(0, colon).trim(), def: { formula: formula!.trim(), params } };
}

/**
 * The run's models, in stack order: every activation once per seed. With one seed a model is its
 * activation's name; with several, `name@seed` (names have no `@`).
 */
export function modelsOf(c: RunConfig): ActivationName[] {
  const n = c.seeds ?? 1;
  return c.activations.flatMap((a) => (n === 1 ? [a] : Array.from({ length: n }, (_, i) => `${a}@${c.seed + i}`)));
}

/** A model's activation and seed (`modelsOf`'s inverse). */
export function modelOf(c: RunConfig, model: string): { activation: ActivationName; seed: number } {
  const at = model.lastIndexOf('@');
  return at < 0 ? { activation: model, seed: c.seed } : { activation: model.slice(0, at), seed: Number(model.slice(at + 1)) };
}

/** What the crate takes for activation `name` of the run: a built-in by name, or its formula. */
export function activationOf(c: RunConfig, name: ActivationName): Activation {
  const d = c.custom?.[name];
  return d ? { name, formula: d.formula, params: { ...d.params } } : name as Activation;
}

/** Whether `name` is a built-in with its default parameters in `c` (the published values apply). */
export function isPlainBuiltin(c: Pick<RunConfig, 'custom'>, name: ActivationName): boolean {
  return BUILTIN_NAMES.includes(name) && !c.custom?.[name];
}

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
  const custom: Record<ActivationName, ActivationDef> = {};
  for (const text of v.custom ?? []) {
    const d = decodeDef(text);
    if (typeof d === 'string') errors.custom = `Custom activation: ${d}`;
    else custom[d.name] = d.def;
  }
  const activations = [...new Set(v.activations ?? [])].filter((a) => BUILTIN_NAMES.includes(a) || custom[a]);
  if (activations.length === 0) errors.activations = 'choose at least one activation function';
  if (activations.length > 64) errors.activations = 'at most 64 activation functions in one run';
  // Only the chosen ones' definitions are the run's.
  for (const name of Object.keys(custom)) if (!activations.includes(name)) delete custom[name];
  const epochs = take('epochs', integer(v.epochs, 1, 50, 'Epochs'));
  const patience = take('patience', integer(v.patience, 1, 50, 'Patience'));
  const batchSize = take('batchSize', integer(v.batchSize, 1, 4096, 'Batch size'));
  const seed = take('seed', integer(v.seed, 0, 2 ** 32 - 1, 'Seed'));
  const seeds = take('seeds', integer(v.seeds ?? '1', 1, 16, 'Seeds'));
  const limit = take('limit', integer(v.limit, 1, 50000, 'Images per split'));
  const lr = Number((v.learningRate ?? '').trim());
  const learningRate = take('learningRate', (v.learningRate ?? '').trim() !== '' && Number.isFinite(lr) && lr > 0 && lr <= 10
    ? lr : 'Learning rate must be a number above 0 (at most 10)');
  const parts = (v.hidden ?? '').split(/[\s,]+/).filter((s) => s !== '');
  const sizes = parts.map((p) => integer(p, 1, 4096, 'Each hidden size'));
  const bad = sizes.find((s) => typeof s === 'string');
  const hidden = take('hidden', parts.length === 0 ? 'Hidden sizes: give at least one, e.g. 512, 256'
    : parts.length > 16 ? 'Hidden sizes: at most 16 layers' : bad ?? (sizes as number[]));
  const init = INITS.find((i) => i === v.init);
  if (!init) errors.init = `Initializer must be one of ${INITS.join(', ')}`;
  const prng = v.prng === 'default' || v.prng === 'legacy' ? v.prng : undefined;
  if (!prng) errors.prng = 'PRNG must be default or legacy';
  const optimizer = v.optimizer === 'sgd' || v.optimizer === 'adam' ? v.optimizer : undefined;
  if (!optimizer) errors.optimizer = 'Optimizer must be sgd or adam';
  if (batchSize !== undefined && limit !== undefined && batchSize > limit) {
    errors.batchSize = `Batch size (${batchSize}) is larger than the images per split (${limit})`;
  }
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return {
    ok: true,
    config: { activations, custom, epochs: epochs!, patience: patience!, batchSize: batchSize!, learningRate: learningRate!,
      hidden: hidden!, init: init!, prng: prng!, optimizer: optimizer!, seed: seed!, seeds: seeds!, limit: limit! },
  };
}

/** The form values that show `c` (the inverse of `parseRunConfig`). */
export function formValuesOf(c: RunConfig): Required<FormValues> {
  return {
    activations: [...c.activations], custom: Object.entries(c.custom ?? {}).map(([n, d]) => encodeDef(n, d)), epochs: String(c.epochs), patience: String(c.patience),
    batchSize: String(c.batchSize), learningRate: String(c.learningRate), hidden: c.hidden.join(', '),
    init: c.init, prng: c.prng ?? 'default', optimizer: c.optimizer, seed: String(c.seed), seeds: String(c.seeds ?? 1), limit: String(c.limit),
  };
}

/**
 * The crate's configuration for one activation of a run: what the form sets, over the crate's
 * defaults (`defaultConfig()`: the input and output sizes, SGD's momentum).
 */
export function trainConfigOf(c: RunConfig, model: ActivationName, defaults: Complete<TrainConfig>): TrainConfig {
  const activation = modelOf(c, model).activation;
  const sgd = defaults.optimizer.kind === 'sgd' ? defaults.optimizer : { kind: 'sgd' as const, learning_rate: c.learningRate, momentum: 0.9 };
  return {
    mlp: { ...defaults.mlp, hidden: c.hidden },
    activation: activationOf(c, activation),
    kernel_init: { kind: c.init },
    // The notebook's and PyTorch's draw biases like kernels; Flax's lecun_uniform goes with zero biases.
    bias_init: c.init === 'tutorial' ? 'tutorial' : c.init === 'torch_default' ? 'fan_in_uniform' : 'zeros',
    optimizer: c.optimizer === 'sgd' ? { ...sgd, learning_rate: c.learningRate } : { kind: 'adam', learning_rate: c.learningRate },
  };
}

/** The query string that opens the form as `c` (`keep`'s other parameters, `?data=` say, stay). */
export function queryOf(c: RunConfig, keep: URLSearchParams = new URLSearchParams()): string {
  const q = new URLSearchParams(keep);
  const v = formValuesOf(c);
  for (const [k, val] of Object.entries(v)) {
    if (k === 'custom') continue;
    q.set(k, Array.isArray(val) ? val.join(',') : val);
  }
  q.delete('fn');
  for (const d of v.custom) q.append('fn', d);
  return q.toString();
}
