// Draws the analyses (computed by the trainer: app/analyses.ts) as the tutorial's figures, each
// with a sentence on what to look for: functions and derivatives, gradient flow, activation
// histograms (each activation's trained model where it has one, marked per activation), and the
// dead neurons per layer as counts and bars, at initialisation and after training.
import type { AnalysisData } from '../app/protocol.js';
import { XYChart, colourOf } from './charts.js';

/** What the charts show, for tests and the console. */
export interface AnalysisResult {
  /** chart id -> points per line */
  charts: Record<string, Record<string, number>>;
  /** Mean |dLoss/dKernel| per layer at initialisation. */
  gradMeans: Record<string, number[]>;
  /** Dead units per hidden layer, at initialisation and after training (counts). */
  dead: Record<string, { init: number[]; trained: number[] | null }>;
  /** Per activation, whether its model was trained. */
  trained: Record<string, boolean>;
  trainedModels: boolean;
  /** The images the dead neurons were counted over. */
  deadImages: number;
}

/** A figure with a caption, a note and an (empty) chart container, appended to `box`. */
function figure(box: HTMLElement, id: string, caption: string, note?: string): HTMLElement {
  const fig = document.createElement('figure');
  const cap = document.createElement('figcaption');
  cap.textContent = caption;
  fig.append(cap);
  if (note) {
    const p = document.createElement('p');
    p.className = 'note';
    p.textContent = note;
    fig.append(p);
  }
  const chart = document.createElement('div');
  chart.id = id;
  chart.className = 'chart';
  fig.append(chart);
  box.append(fig);
  return chart;
}

export function drawAnalyses(d: AnalysisData, box: HTMLElement, deadTable: HTMLTableElement): AnalysisResult {
  const acts = d.activations;
  const trained = d.trained ?? acts.map(() => d.trainedModels);
  const byAct = <T>(values: T[]) => Object.fromEntries(acts.map((a, i) => [a, values[i]!]));
  const result: AnalysisResult = {
    charts: {}, gradMeans: byAct(d.gradMeans), dead: byAct(d.dead), trained: byAct(trained), trainedModels: d.trainedModels, deadImages: d.deadImages,
  };
  box.replaceChildren();
  const charts: [string, XYChart][] = [];
  const chart = (id: string, caption: string, x: string, y: string, note?: string, logY = false) => {
    const c = new XYChart(figure(box, id, caption, note), x, y, logY);
    charts.push([id, c]);
    return c;
  };
  const lines = (ys: number[][], mark = false) => acts.map((a, i) => ({
    label: mark ? `${a} (${trained[i] ? 'trained' : 'at init'})` : a, ys: ys[i]!, colour: colourOf(a),
  }));

  chart('fn-chart', 'Activation functions f(x)', 'x (the pre-activation)', 'f(x)',
    'Where each function bends and where it saturates (flattens out).').set(d.xs, lines(d.curves.map((c) => c.f)));
  chart('dfn-chart', 'Their derivatives f′(x)', 'x (the pre-activation)', 'f′(x)',
    'What backpropagation multiplies by at each layer: sigmoid\'s is at most 0.25, ReLU\'s is 0 for every negative input.')
    .set(d.xs, lines(d.curves.map((c) => c.df)));
  chart('grad-mean-chart', 'Gradient flow at initialisation: mean |∂loss/∂kernel| per layer', 'layer (1 = first)', 'mean |gradient| (log scale)',
    'A line that falls towards layer 1 means the first layers barely learn: the gradient vanishes on its way back.', true)
    .set(d.gradMeans[0]?.map((_, l) => l + 1) ?? [], lines(d.gradMeans));
  d.gradHist.forEach((h, l) => chart(`grad-hist-${l + 1}`, `Layer ${l + 1} kernel: distribution of log10 |gradient| at initialisation`,
    'log10 |∂loss/∂kernel|', 'fraction of weights').set(h.centres, lines(h.fractions)));
  d.actHist.forEach((h, l) => chart(`act-hist-${l + 1}`, `Hidden layer ${l + 1} outputs`, 'activation value', 'fraction of outputs',
    l === 0 ? 'Each activation\'s trained model where it has one, else at initialisation (as the legend says).' : undefined)
    .set(h.centres, lines(h.fractions, true)));

  drawDead(d, deadTable, trained);
  for (const [id, c] of charts) result.charts[id] = c.counts();
  return result;
}

/** The dead neurons: per activation and hidden layer, the count at initialisation and after
 * training, with a bar for each (its share of the layer's units). */
function drawDead(d: AnalysisData, table: HTMLTableElement, trained: boolean[]): void {
  const widths = d.widths ?? [];
  table.caption!.textContent = `Dead neurons per hidden layer (units that output 0 for every one of the ${d.deadImages ?? '?'} training images): at initialisation → after training`;
  const head = table.createTHead();
  head.replaceChildren();
  const hr = head.insertRow();
  for (const t of ['Activation', ...(d.dead[0]?.init ?? []).map((_, l) => `Layer ${l + 1}${widths[l] ? ` (${widths[l]} units)` : ''}`)]) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = t;
    hr.append(th);
  }
  const bar = (n: number, width: number | undefined, colour: string, label: string) => {
    const wrap = document.createElement('span');
    wrap.className = 'bar';
    wrap.setAttribute('aria-hidden', 'true');
    wrap.title = label;
    const fill = document.createElement('span');
    fill.style.width = `${width ? Math.min(100, (100 * n) / width) : 0}%`;
    fill.style.background = colour;
    wrap.append(fill);
    return wrap;
  };
  const body = table.tBodies[0] ?? table.createTBody();
  body.replaceChildren(...d.activations.map((a, i) => {
    const row = document.createElement('tr');
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = a;
    row.append(th);
    const dd = d.dead[i]!;
    dd.init.forEach((n, l) => {
      const cell = row.insertCell();
      const after = dd.trained?.[l];
      const pct = (x: number) => (widths[l] ? ` (${((100 * x) / widths[l]!).toFixed(1)}%)` : '');
      const text = document.createElement('span');
      text.className = 'counts';
      text.textContent = `${n}${pct(n)} → ${after === undefined ? (trained[i] ? '–' : 'not trained') : `${after}${pct(after)}`}`;
      cell.append(text, bar(n, widths[l], '#999', 'at initialisation'));
      if (after !== undefined) cell.append(bar(after, widths[l], colourOf(a), 'after training'));
    });
    return row;
  }));
}
