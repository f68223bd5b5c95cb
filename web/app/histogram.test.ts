import { describe, expect, it } from 'vitest';
import { histograms, linspace, log10Magnitudes, mean } from './histogram.js';

describe('histograms', () => {
  it('bins several inputs over shared bins spanning all their values', () => {
    const h = histograms([[0, 1, 2, 3], [3, 3, NaN]], 3);
    expect(h.centres).toEqual([0.5, 1.5, 2.5]);
    // The maximum falls in the last bin; NaN is ignored.
    expect(h.fractions[0]).toEqual([0.25, 0.25, 0.5]);
    expect(h.fractions[1]).toEqual([0, 0, 1]);
  });

  it('clamps into a given range and survives constant or empty input', () => {
    // 0.5 is the start of the second bin.
    expect(histograms([[-10, 0.5, 10]], 2, [0, 1]).fractions[0]).toEqual([1 / 3, 2 / 3]);
    const c = histograms([[4, 4]], 2);
    expect(c.centres).toEqual([3.75, 4.25]);
    expect(c.fractions[0]).toEqual([0, 1]);
    expect(histograms([[]], 2).fractions[0]).toEqual([0, 0]);
  });
});

describe('helpers', () => {
  it('takes log magnitudes with a floor for zeros', () => {
    expect(Array.from(log10Magnitudes([100, -0.001, 0], -9))).toEqual([2, -3, -9]);
  });
  it('means and spaces', () => {
    expect(mean([1, 2, 6])).toBe(3);
    expect(mean([])).toBeNaN();
    expect(Array.from(linspace(-5, 5, 3))).toEqual([-5, 0, 5]);
  });
});
