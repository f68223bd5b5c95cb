// Shaping the analyses' raw numbers for charts: shared-bin histograms (so several activations
// overlay on one x axis), log-magnitude transforms, means and grids. Pure, unit-tested.

export interface Histogram {
  /** Bin centres, shared by every input. */
  centres: number[];
  /** Per input, the fraction of its finite values in each bin (each sums to 1). */
  fractions: number[][];
}

/**
 * Histograms of several arrays over common bins spanning all their finite values (or `range`);
 * values outside `range` are clamped into the end bins.
 */
export function histograms(inputs: readonly ArrayLike<number>[], bins: number, range?: [number, number]): Histogram {
  let [lo, hi] = range ?? [Infinity, -Infinity];
  if (!range) {
    for (const a of inputs) {
      for (let i = 0; i < a.length; i++) {
        const v = a[i]!;
        if (Number.isFinite(v)) {
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
      }
    }
  }
  if (!(lo <= hi)) [lo, hi] = [0, 1];
  if (lo === hi) [lo, hi] = [lo - 0.5, hi + 0.5];
  const width = (hi - lo) / bins;
  const centres = Array.from({ length: bins }, (_, i) => lo + (i + 0.5) * width);
  const fractions = inputs.map((a) => {
    const counts = new Array<number>(bins).fill(0);
    let n = 0;
    for (let i = 0; i < a.length; i++) {
      const v = a[i]!;
      if (!Number.isFinite(v)) continue;
      const b = Math.min(bins - 1, Math.max(0, Math.floor((v - lo) / width)));
      counts[b]! += 1;
      n += 1;
    }
    return counts.map((c) => (n > 0 ? c / n : 0));
  });
  return { centres, fractions };
}

/** `log10(|v|)`, with zeros mapped to `floor` (log10 of 0 is -Infinity). */
export function log10Magnitudes(values: ArrayLike<number>, floor = -12): Float64Array {
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const a = Math.abs(values[i]!);
    out[i] = a > 0 ? Math.max(floor, Math.log10(a)) : floor;
  }
  return out;
}

/** The arithmetic mean (NaN for no values). */
export function mean(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i]!;
  return values.length ? s / values.length : NaN;
}

/** `n` evenly spaced points from `a` to `b` inclusive. */
export function linspace(a: number, b: number, n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => (n === 1 ? a : a + ((b - a) * i) / (n - 1)));
}
