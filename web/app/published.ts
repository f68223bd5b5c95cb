// The tutorial's published table and its protocol as a preset: what the page's results are
// compared with (docs/results.md has ActLab's own full runs).
import { ACTIVATIONS } from '../sdk/index.js';
import { DEFAULT_RUN, isPlainBuiltin, type ActivationName, type RunConfig } from './config.js';

type Tutorial = (typeof ACTIVATIONS)[number];

/** Published test accuracy (%) of the JAX notebook (every Dense kernel and bias from
 * U(±1/√fan_in), PyTorch's default, from `PRNGKey(42)`). */
export const PUBLISHED_JAX: Record<Tutorial, number> = {
  sigmoid: 78.46, tanh: 88.57, relu: 88.65, leaky_relu: 88.33, elu: 88.32, swish: 88.33,
};

/** Published test accuracy (%) of the PyTorch notebook (PyTorch's default init). */
export const PUBLISHED_PYTORCH: Record<Tutorial, number> = {
  sigmoid: 10.0, tanh: 87.59, relu: 88.62, leaky_relu: 88.92, elu: 87.27, swish: 88.73,
};

/** The tutorial's protocol: all six activations, the tutorial's MLP and SGD, up to 50 epochs,
 * early stopping with patience 7, the full 50k/10k split; the seed and the initializer stay as
 * the form has them. */
export function tutorialPreset(current: RunConfig): RunConfig {
  return {
    ...current, activations: [...ACTIVATIONS], custom: {}, epochs: 50, patience: 7, limit: DEFAULT_RUN.limit,
    hidden: [...DEFAULT_RUN.hidden], batchSize: 256, learningRate: 0.01, optimizer: 'sgd',
  };
}

/** The published columns of a results row: JAX value, difference to it, PyTorch value ('–'
 * for an activation the tutorial did not train, or a built-in with other parameters). */
export function publishedCells(activation: ActivationName, testAccuracy: number | null, cfg: Pick<RunConfig, 'custom'> = {}): [string, string, string] {
  if (!(ACTIVATIONS as readonly string[]).includes(activation) || !isPlainBuiltin(cfg, activation)) return ['–', '–', '–'];
  const jax = PUBLISHED_JAX[activation as Tutorial];
  const torch = PUBLISHED_PYTORCH[activation as Tutorial];
  const diff = testAccuracy === null ? '–' : `${100 * testAccuracy - jax >= 0 ? '+' : ''}${(100 * testAccuracy - jax).toFixed(2)}`;
  return [`${jax.toFixed(2)}%`, diff, `${torch.toFixed(2)}%`];
}

/** The notebook's deep network (hidden 256 x5, then 128 x5) with ReLU, its init and PRNG, seed
 * 42, all images: its dead neurons at initialisation are the notebook's printed counts. */
export function deepPreset(current: RunConfig): RunConfig {
  return {
    ...current, activations: ['relu'], custom: {}, hidden: [256, 256, 256, 256, 256, 128, 128, 128, 128, 128],
    init: 'tutorial', prng: 'legacy', seed: 42, seeds: 1, limit: DEFAULT_RUN.limit, batchSize: 256, learningRate: 0.01, optimizer: 'sgd',
  };
}

/** Whether two run settings make the same models (what the analyses of a run depend on). */
export function sameModels(a: RunConfig, b: RunConfig): boolean {
  const key = (c: RunConfig) => JSON.stringify([c.activations, c.custom ?? {}, c.hidden, c.init, c.prng ?? 'default', c.seed, c.seeds ?? 1, c.limit]);
  return key(a) === key(b);
}
