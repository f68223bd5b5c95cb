// Draws the analyses (computed by the trainer: app/analyses.ts) as the tutorial's figures:
// functions and derivatives, gradient flow, activation histograms, and the dead-neuron table.
import type { AnalysisData } from '../app/protocol.js';
import { XYChart } from './charts.js';

/** What the charts show, for tests and the console. */
export interface AnalysisResult {
  /** chart id -> points per activation */
  charts: Record<string, Record<string, number>>;
  /** Mean |dLoss/dKernel| per layer at initialisation. */
  gradMeans: Record<string, number[]>;
  /** Fraction of dead units per hidden layer, at initialisation and after training. */
  dead: Record<string, { init: number[]; trained: number[] | null }>;
  trainedModels: boolean;
}

/** A figure with a caption and an (empty) chart container, appended to `box`. */
function figure(box: HTMLElement, id: string, caption: string): HTMLElement {
  const fig = document.createElement('figure');
  const cap = document.createElement('figcaption');
  cap.textContent = caption;
  const chart = document.createElement('div');
  chart.id = id;
  chart.className = 'chart';
  fig.append(cap, chart);
  box.append(fig);
  return chart;
}

export function drawAnalyses(d: AnalysisData, box: HTMLElement, deadTable: HTMLTableElement): AnalysisResult {
  const acts = d.activations;
  const byAct = <T>(values: T[]) => Object.fromEntries(acts.map((a, i) => [a, values[i]!]));
  const result: AnalysisResult = { charts: {}, gradMeans: byAct(d.gradMeans), dead: byAct(d.dead), trainedModels: d.trainedModels };
  box.replaceChildren();
  const charts: [string, XYChart][] = [];
  const chart = (id: string, caption: string, x: string, y: string, logY = false) => {
    const c = new XYChart(figure(box, id, caption), x, y, logY);
    charts.push([id, c]);
    return c;
  };
  const lines = (ys: number[][]) => acts.map((a, i) => ({ label: a, ys: ys[i]! }));

  chart('fn-chart', 'Activation functions f(x)', 'x', 'f(x)').set(d.xs, lines(d.curves.map((c) => c.f)));
  chart('dfn-chart', 'Their derivatives f′(x), by autodiff', 'x', 'f′(x)').set(d.xs, lines(d.curves.map((c) => c.df)));
  chart('grad-mean-chart', 'Gradient flow at initialisation: mean |∂loss/∂kernel| per layer', 'layer', 'mean |gradient|', true)
    .set(d.gradMeans[0]?.map((_, l) => l + 1) ?? [], lines(d.gradMeans));
  d.gradHist.forEach((h, l) => chart(`grad-hist-${l + 1}`, `Layer ${l + 1} kernel: distribution of log10 |gradient|`, 'log10 |gradient|', 'fraction')
    .set(h.centres, lines(h.fractions)));
  const when = d.trainedModels ? 'trained models' : 'at initialisation';
  d.actHist.forEach((h, l) => chart(`act-hist-${l + 1}`, `Hidden layer ${l + 1} outputs (${when})`, 'activation value', 'fraction')
    .set(h.centres, lines(h.fractions)));

  // Dead neurons, before and after training.
  const pct = (x: number | undefined) => (x === undefined ? '–' : `${(100 * x).toFixed(1)}%`);
  const head = deadTable.createTHead();
  head.replaceChildren();
  const hr = head.insertRow();
  for (const t of ['Activation', ...(d.dead[0]?.init ?? []).map((_, l) => `Layer ${l + 1}: init → trained`)]) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = t;
    hr.append(th);
  }
  const body = deadTable.tBodies[0] ?? deadTable.createTBody();
  body.replaceChildren(...acts.map((a, i) => {
    const row = document.createElement('tr');
    row.insertCell().textContent = a;
    const dd = d.dead[i]!;
    dd.init.forEach((f, l) => { row.insertCell().textContent = `${pct(f)} → ${dd.trained ? pct(dd.trained[l]) : 'not trained'}`; });
    return row;
  }));

  for (const [id, c] of charts) result.charts[id] = c.counts();
  return result;
}
