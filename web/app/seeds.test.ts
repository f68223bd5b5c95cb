import { describe, expect, it } from 'vitest';
import { DEFAULT_RUN, modelOf, modelsOf } from './config.js';
import { emptyRecord } from './protocol.js';
import { accuracy, band, formatAccuracy, groups } from './seeds.js';

describe('seeds', () => {
  const cfg = { ...DEFAULT_RUN, activations: ['sigmoid', 'relu'], seed: 42, seeds: 3 };

  it('makes every activation once per seed, and tells them apart', () => {
    expect(modelsOf(cfg)).toEqual(['sigmoid@42', 'sigmoid@43', 'sigmoid@44', 'relu@42', 'relu@43', 'relu@44']);
    expect(modelOf(cfg, 'relu@43')).toEqual({ activation: 'relu', seed: 43 });
    expect(modelsOf({ ...cfg, seeds: 1 })).toEqual(['sigmoid', 'relu']);
    expect(modelOf({ ...cfg, seeds: 1 }, 'relu')).toEqual({ activation: 'relu', seed: 42 });
  });

  it('groups a run by activation: a mean with its band, and the seeds that escaped chance', () => {
    const runs = modelsOf(cfg).map(emptyRecord);
    runs.forEach((r, i) => {
      r.valAccuracy = i < 3 ? [0.1, 0.1 + 0.2 * i] : [0.8, 0.85 + 0.01 * i];
      r.testAccuracy = i < 3 ? [0.1, 0.1, 0.7][i]! : 0.88;
    });
    const gs = groups(cfg, runs);
    expect(gs.map((g) => [g.activation, g.records.length])).toEqual([['sigmoid', 3], ['relu', 3]]);
    const b = band(gs[0]!.records.map((r) => r.valAccuracy));
    expect(b.mean.map((x) => +x.toFixed(6))).toEqual([0.1, 0.3]);
    expect([b.lo[1], b.hi[1]]).toEqual([0.1, 0.5]);
    const sig = accuracy(gs[0]!)!;
    expect([sig.escaped, sig.seeds, sig.min, sig.max]).toEqual([1, 3, 0.1, 0.7]);
    expect(formatAccuracy(sig)).toBe('30.00% ± 30.00');
    expect(formatAccuracy({ mean: 0.885, min: 0.885, max: 0.885, seeds: 1, escaped: 1 })).toBe('88.50%');
    expect(band([[1, NaN], [3]])).toEqual({ mean: [2, NaN], lo: [1, NaN], hi: [3, NaN] });
  });
});
