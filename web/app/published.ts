// The tutorial's published table and its protocol as a preset: what the page's results are
// compared with (docs/results.md has ActLab's own full runs).
import { ACTIVATIONS, type Activation } from '../sdk/index.js';
import { DEFAULT_RUN, type RunConfig } from './config.js';

/** Published test accuracy (%), JAX version (Flax's `lecun_uniform` init). */
export const PUBLISHED_JAX: Record<Activation, number> = {
  sigmoid: 78.46, tanh: 88.57, relu: 88.65, leaky_relu: 88.33, elu: 88.32, swish: 88.33,
};

/** Published test accuracy (%), PyTorch version (PyTorch's default init), where known. */
export const PUBLISHED_PYTORCH: Partial<Record<Activation, number>> = { sigmoid: 10.0 };

/** The tutorial's protocol: all six activations, the tutorial's MLP and SGD, up to 50 epochs,
 * early stopping with patience 7, the full 50k/10k split; the seed and the initializer stay as
 * the form has them (PyTorch's default matches the PyTorch column, lecun_uniform the JAX one). */
export function tutorialPreset(current: RunConfig): RunConfig {
  return {
    ...current, activations: [...ACTIVATIONS], epochs: 50, patience: 7, limit: DEFAULT_RUN.limit,
    hidden: [...DEFAULT_RUN.hidden], batchSize: 256, learningRate: 0.01, optimizer: 'sgd',
  };
}

/** The published columns of a results row: JAX value, difference to it, PyTorch value. */
export function publishedCells(activation: Activation, testAccuracy: number | null): [string, string, string] {
  const jax = PUBLISHED_JAX[activation];
  const torch = PUBLISHED_PYTORCH[activation];
  const diff = testAccuracy === null ? '–' : `${100 * testAccuracy - jax >= 0 ? '+' : ''}${(100 * testAccuracy - jax).toFixed(2)}`;
  return [`${jax.toFixed(2)}%`, diff, torch === undefined ? '–' : `${torch.toFixed(2)}%`];
}
