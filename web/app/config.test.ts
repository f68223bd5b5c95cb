import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Complete, TrainConfig } from '../sdk/types.js';
import { DEFAULT_RUN, decodeDef, encodeDef, formValuesOf, parseRunConfig, queryOf, trainConfigOf } from './config.js';

/** The crate's defaults as `defaultConfig()` returns them (checked against it below). */
const DEFAULTS: Complete<TrainConfig> = {
  mlp: { input: 784, hidden: [512, 256, 256, 128], output: 10 },
  activation: 'relu',
  kernel_init: { kind: 'tutorial' },
  bias_init: 'tutorial',
  optimizer: { kind: 'sgd', learning_rate: 0.01, momentum: 0.9 },
};

describe('parseRunConfig', () => {
  it('round-trips the defaults', () => {
    expect(parseRunConfig(formValuesOf(DEFAULT_RUN))).toEqual({ ok: true, config: DEFAULT_RUN });
  });

  it('accepts hidden sizes separated by commas or spaces', () => {
    const r = parseRunConfig({ ...formValuesOf(DEFAULT_RUN), hidden: ' 32,16  8 ' });
    expect(r.ok && r.config.hidden).toEqual([32, 16, 8]);
  });

  it('reports every bad field with a message', () => {
    const r = parseRunConfig({
      ...formValuesOf(DEFAULT_RUN), activations: ['nope'], epochs: '0', learningRate: '-1', hidden: '32, x',
      seed: '1.5', batchSize: '512', limit: '100', init: 'he', optimizer: 'rmsprop', prng: 'new',
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(Object.keys(r.errors).sort()).toEqual(
      ['activations', 'batchSize', 'epochs', 'hidden', 'init', 'learningRate', 'optimizer', 'prng', 'seed'].sort());
    expect(r.errors.epochs).toBe('Epochs must be from 1 to 50');
    expect(r.errors.seed).toBe('Seed must be a whole number from 0 to 4294967295');
    expect(r.errors.batchSize).toBe('Batch size (512) is larger than the images per split (100)');
  });

  it('takes custom activations as name:formula;param=value, keeping only the chosen ones', () => {
    const r = parseRunConfig({
      ...formValuesOf(DEFAULT_RUN), activations: ['relu', 'mine', 'gelu'],
      custom: ['mine:x * sigmoid(b * x);b=1.5', 'unused:x'],
    });
    expect(r.ok && r.config.activations).toEqual(['relu', 'mine', 'gelu']);
    expect(r.ok && r.config.custom).toEqual({ mine: { formula: 'x * sigmoid(b * x)', params: { b: 1.5 } } });
    const bad = parseRunConfig({ ...formValuesOf(DEFAULT_RUN), custom: ['mine:x;b=one'] });
    expect(!bad.ok && bad.errors.custom).toBe('Custom activation: parameter "b=one" is not name=number');
  });

  it('encodes definitions and whole runs as text that decodes to the same', () => {
    const def = { formula: 'where(x > a, x, a * x)', params: { a: 0.25, b: -3 } };
    expect(decodeDef(encodeDef('mine', def))).toEqual({ name: 'mine', def });
    const cfg = { ...DEFAULT_RUN, activations: ['tanh', 'mine'], custom: { mine: def }, seed: 3 };
    const q = new URLSearchParams(queryOf(cfg, new URLSearchParams('data=https://x/')));
    expect(q.get('data')).toBe('https://x/');
    expect(q.getAll('fn')).toEqual([encodeDef('mine', def)]);
    const values = { ...formValuesOf(DEFAULT_RUN), activations: q.get('activations')!.split(','), custom: q.getAll('fn'), seed: q.get('seed')! };
    expect(parseRunConfig(values)).toEqual({ ok: true, config: cfg });
  });

  it('rejects an empty learning rate and too many layers', () => {
    const r = parseRunConfig({ ...formValuesOf(DEFAULT_RUN), learningRate: ' ', hidden: Array.from({ length: 17 }, (_, i) => i + 1).join(' ') });
    expect(!r.ok && [r.errors.learningRate, r.errors.hidden]).toEqual([
      'Learning rate must be a number above 0 (at most 10)', 'Hidden sizes: at most 16 layers']);
  });
});

describe('trainConfigOf', () => {
  // The crate's own defaults, from the wasm module (built before the unit tests run).
  const wasmDir = new URL('../../pkg/', import.meta.url);
  const crate = async () => {
    const wasm = await import(new URL('actlab.js', wasmDir).href) as typeof import('../../pkg/actlab.js');
    wasm.initSync({ module: readFileSync(new URL('actlab_bg.wasm', wasmDir)) });
    return wasm;
  };

  it('the page’s default run is the crate’s default config, field for field', async () => {
    const wasm = await crate();
    const defaults = wasm.defaultConfig() as Complete<TrainConfig>;
    expect(defaults).toEqual({ ...DEFAULTS, activation: { name: 'relu', formula: 'where(x > 0, x, 0)', params: {} } });
    expect(wasm.fullConfig(trainConfigOf(DEFAULT_RUN, 'relu', defaults))).toEqual(defaults);
  });

  it('maps the tutorial defaults to the crate config', () => {
    expect(trainConfigOf({ ...DEFAULT_RUN, init: 'torch_default' }, 'elu', DEFAULTS)).toEqual({
      mlp: { input: 784, hidden: [512, 256, 256, 128], output: 10 },
      activation: 'elu',
      kernel_init: { kind: 'torch_default' },
      bias_init: 'fan_in_uniform',
      optimizer: { kind: 'sgd', learning_rate: 0.01, momentum: 0.9 },
    });
  });

  it('gives a custom activation to the crate as its formula', async () => {
    const cfg = { ...DEFAULT_RUN, activations: ['mine'], custom: { mine: { formula: 'a * x', params: { a: 2 } } } };
    const c = trainConfigOf(cfg, 'mine', DEFAULTS);
    expect(c.activation).toEqual({ name: 'mine', formula: 'a * x', params: { a: 2 } });
    const wasm = await crate();
    expect(wasm.fullConfig(c).activation).toEqual({ name: 'mine', formula: 'a * x', params: { a: 2 } });
  });

  it('gives the notebook\'s init to kernels and biases by default', () => {
    const c = trainConfigOf(DEFAULT_RUN, 'relu', DEFAULTS);
    expect([c.kernel_init, c.bias_init]).toEqual([{ kind: 'tutorial' }, 'tutorial']);
    expect([DEFAULT_RUN.prng, DEFAULT_RUN.seed]).toEqual(['legacy', 42]);
  });

  it('pairs lecun_uniform with zero biases and builds Adam', () => {
    const c = trainConfigOf({ ...DEFAULT_RUN, init: 'lecun_uniform', optimizer: 'adam', learningRate: 0.001 }, 'relu', DEFAULTS);
    expect([c.bias_init, c.optimizer]).toEqual(['zeros', { kind: 'adam', learning_rate: 0.001 }]);
  });
});
