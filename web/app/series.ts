// Shaping training records into chart data: smoothing, aligning runs on one x axis, and the
// progress arithmetic (steps/s, ETA). Pure, unit-tested.

/**
 * Exponential moving average with TensorBoard's debiasing (the first points are not pulled
 * towards zero). `weight` in [0, 1): 0 is no smoothing. NaN gaps are carried over.
 */
export function smooth(values: readonly number[], weight: number): number[] {
  let last = 0;
  let n = 0;
  return values.map((v) => {
    if (!Number.isFinite(v)) return v;
    last = last * weight + (1 - weight) * v;
    n += 1;
    return last / (1 - weight ** n);
  });
}

/** One line of a chart: y values at x = 1, 2, … (steps or epochs). */
export interface Line {
  label: string;
  ys: readonly number[];
  /** The line's colour (default: its activation's) and dash pattern. */
  colour?: string;
  dash?: number[];
  /** The lower or upper edge of the band around the line labelled `of` (seeds' min and max). */
  edge?: { of: string; side: 'lo' | 'hi' };
}

/**
 * uPlot's aligned data for lines of different lengths: x = 1..longest, and `null` where a line
 * has no value (not yet trained, or stopped early), so uPlot leaves a gap instead of a zero.
 */
export function aligned(lines: readonly Line[], weight = 0): [number[], ...(number | null)[][]] {
  const len = Math.max(0, ...lines.map((l) => l.ys.length));
  const xs = Array.from({ length: len }, (_, i) => i + 1);
  return [xs, ...lines.map((l) => {
    const ys = weight > 0 ? smooth(l.ys, weight) : [...l.ys];
    return xs.map((_, i) => (i < ys.length && Number.isFinite(ys[i]) ? (ys[i] as number) : null));
  })];
}

/** "1 h 02 min", "3 min 05 s", "12 s": a duration for people. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '–';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h > 0) return `${h} h ${String(m).padStart(2, '0')} min`;
  if (m > 0) return `${m} min ${String(r).padStart(2, '0')} s`;
  return `${r} s`;
}

/** Steps per second and the time left for `remaining` steps, from steps done in `elapsedMs`. */
export function throughput(done: number, elapsedMs: number, remaining: number): { stepsPerSec: number; etaSec: number } {
  const stepsPerSec = elapsedMs > 0 ? (done * 1000) / elapsedMs : NaN;
  return { stepsPerSec, etaSec: stepsPerSec > 0 ? remaining / stepsPerSec : NaN };
}

/** The epoch with the best validation accuracy (first on ties), and whether to stop early. */
export function earlyStopping(valAcc: readonly number[], patience: number): { best: number; stop: boolean } {
  let best = -1;
  valAcc.forEach((a, i) => {
    if (best < 0 || a > (valAcc[best] as number)) best = i;
  });
  return { best, stop: best >= 0 && valAcc.length - 1 - best >= patience };
}
