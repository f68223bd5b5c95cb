import { describe, expect, it } from 'vitest';
import { DEFAULT_RUN } from './config.js';
import { PUBLISHED_JAX, publishedCells, tutorialPreset } from './published.js';

describe('the published table', () => {
  it('gives the JAX value, the signed difference and the PyTorch value where known', () => {
    expect(publishedCells('relu', 0.8875)).toEqual(['88.65%', '+0.10', '88.62%']);
    expect(publishedCells('sigmoid', 0.1)).toEqual(['78.46%', '-68.46', '10.00%']);
    expect(publishedCells('tanh', null)).toEqual(['88.57%', '–', '87.59%']);
    expect(publishedCells('leaky_relu', 0.88)).toEqual(['88.33%', '-0.33', '88.92%']);
    expect(Object.keys(PUBLISHED_JAX)).toHaveLength(6);
  });

  it('has no published value for another function or a built-in with other parameters', () => {
    expect(publishedCells('gelu', 0.88)).toEqual(['–', '–', '–']);
    expect(publishedCells('mine', 0.88, { custom: { mine: { formula: 'x', params: {} } } })).toEqual(['–', '–', '–']);
    const slope = { custom: { leaky_relu: { formula: 'where(x > 0, x, alpha * x)', params: { alpha: 0.01 } } } };
    expect(publishedCells('leaky_relu', 0.88, slope)).toEqual(['–', '–', '–']);
  });

  it('presets the tutorial protocol and keeps the rest of the form', () => {
    const mine = { ...DEFAULT_RUN, activations: ['relu' as const], epochs: 3, seed: 7, init: 'lecun_uniform' as const, limit: 512 };
    const p = tutorialPreset(mine);
    expect(p).toMatchObject({ epochs: 50, patience: 7, batchSize: 256, learningRate: 0.01, optimizer: 'sgd', limit: 50000, seed: 7, init: 'lecun_uniform' });
    expect(p.activations).toHaveLength(6);
  });
});
