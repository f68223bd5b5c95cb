import { describe, expect, it } from 'vitest';
import { aligned, earlyStopping, formatDuration, smooth, throughput } from './series.js';

describe('smooth', () => {
  it('is the identity at weight 0 and debiased otherwise', () => {
    expect(smooth([3, 1, 2], 0)).toEqual([3, 1, 2]);
    // Debiased EMA of a constant is that constant from the first point on.
    smooth([5, 5, 5, 5], 0.9).forEach((v) => expect(v).toBeCloseTo(5, 12));
    const [a, b] = smooth([1, 3], 0.5);
    expect(a).toBeCloseTo(1, 12);
    expect(b).toBeCloseTo((0.25 * 1 + 0.5 * 3) / 0.75, 12);
  });

  it('passes NaN gaps through without poisoning later points', () => {
    const s = smooth([1, NaN, 1], 0.6);
    expect(Number.isNaN(s[1])).toBe(true);
    expect(s[2]).toBeCloseTo(1, 12);
  });
});

describe('aligned', () => {
  it('puts lines of different lengths on one x axis with null gaps', () => {
    expect(aligned([{ label: 'relu', ys: [1, 2, 3] }, { label: 'tanh', ys: [4] }])).toEqual([
      [1, 2, 3], [1, 2, 3], [4, null, null],
    ]);
    expect(aligned([])).toEqual([[]]);
  });

  it('smooths each line when asked', () => {
    const [, ys] = aligned([{ label: 'a', ys: [2, 2] }], 0.9);
    expect(ys?.[1]).toBeCloseTo(2, 12);
  });
});

describe('progress arithmetic', () => {
  it('formats durations', () => {
    expect(formatDuration(12.4)).toBe('12 s');
    expect(formatDuration(185)).toBe('3 min 05 s');
    expect(formatDuration(3720)).toBe('1 h 02 min');
    expect(formatDuration(NaN)).toBe('–');
  });

  it('computes steps/s and ETA', () => {
    expect(throughput(10, 2000, 50)).toEqual({ stepsPerSec: 5, etaSec: 10 });
    expect(Number.isNaN(throughput(0, 0, 5).etaSec)).toBe(true);
  });

  it('stops after `patience` epochs without improvement', () => {
    expect(earlyStopping([0.5, 0.6, 0.55, 0.58], 2)).toEqual({ best: 1, stop: true });
    expect(earlyStopping([0.5, 0.6, 0.55], 2)).toEqual({ best: 1, stop: false });
    expect(earlyStopping([0.6, 0.6], 1)).toEqual({ best: 0, stop: true });
    expect(earlyStopping([], 3)).toEqual({ best: -1, stop: false });
  });
});
