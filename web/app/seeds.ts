// A run's models grouped by activation over its seeds (app/config.ts `modelsOf`): the mean of
// each curve with its min-max band, and each activation's test accuracy as mean, spread and how
// many seeds escaped random performance. Pure, unit-tested.
import { modelOf, type ActivationName, type RunConfig } from './config.js';
import type { RunRecord } from './runs.js';

/** Test accuracy above which a model escaped random performance (10%): the CLI's threshold. */
export const ESCAPED = 0.2;

export interface Group { activation: ActivationName; records: RunRecord[] }

/** The records of each activation, in the run's order. */
export function groups(cfg: RunConfig, runs: readonly RunRecord[]): Group[] {
  const out: Group[] = [];
  for (const r of runs) {
    const a = modelOf(cfg, r.activation).activation;
    let g = out.find((x) => x.activation === a);
    if (!g) out.push((g = { activation: a, records: [] }));
    g.records.push(r);
  }
  return out;
}

/** Pointwise mean, min and max of curves of different lengths (non-finite values left out). */
export function band(curves: readonly (readonly number[])[]): { mean: number[]; lo: number[]; hi: number[] } {
  const len = Math.max(0, ...curves.map((c) => c.length));
  const mean: number[] = [];
  const lo: number[] = [];
  const hi: number[] = [];
  for (let i = 0; i < len; i++) {
    const v = curves.map((c) => c[i]).filter((x): x is number => x !== undefined && Number.isFinite(x));
    mean.push(v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN);
    lo.push(v.length ? Math.min(...v) : NaN);
    hi.push(v.length ? Math.max(...v) : NaN);
  }
  return { mean, lo, hi };
}

export interface Accuracy { mean: number; min: number; max: number; seeds: number; escaped: number }

/** The test accuracies of a group's finished models: null while none has finished. */
export function accuracy(g: Group): Accuracy | null {
  const acc = g.records.map((r) => r.testAccuracy).filter((x): x is number => x !== null && x !== undefined);
  if (acc.length === 0) return null;
  return {
    mean: acc.reduce((a, b) => a + b, 0) / acc.length,
    min: Math.min(...acc),
    max: Math.max(...acc),
    seeds: acc.length,
    escaped: acc.filter((a) => a > ESCAPED).length,
  };
}

/** "88.41%" for one seed, "88.41% ± 0.25" (half the min-max range) for several. */
export function formatAccuracy(a: Accuracy | null): string {
  if (!a) return '–';
  const pct = `${(100 * a.mean).toFixed(2)}%`;
  return a.seeds === 1 ? pct : `${pct} ± ${(50 * (a.max - a.min)).toFixed(2)}`;
}
