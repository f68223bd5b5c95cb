// The tutorial's analyses in the page: activation functions and their autodiff derivatives,
// gradient flow at initialisation, hidden-activation histograms and dead neurons. The numbers
// come from the crate (on the GPU); this module bins them and draws the charts.
import {
  activationCurve, deadFractions, gradientMagnitudes, hiddenActivations, init,
  type Activation, type Batch, type Gpu, type GpuSplit, type Key, type TrainConfig, type TrainState,
} from '../sdk/index.js';
import { XYChart } from './charts.js';
import { histograms, linspace, log10Magnitudes, mean } from './histogram.js';

export interface AnalysisInput {
  gpu: Gpu;
  activations: Activation[];
  /** The crate config of each activation (same init key for all: same starting point). */
  configOf: (a: Activation) => TrainConfig;
  initKey: Key;
  /** One batch (the tutorial uses 256 training images) for gradients and activations. */
  batch: Batch;
  /** The training split, for dead neurons. */
  train: GpuSplit;
  /** Trained models, where there are any (else the analyses use freshly initialised ones). */
  trained: Map<string, TrainState>;
  onProgress: (what: string) => void;
}

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

const BINS = 40;

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

export async function runAnalyses(input: AnalysisInput, box: HTMLElement, deadTable: HTMLTableElement): Promise<AnalysisResult> {
  const { gpu, activations: acts } = input;
  const result: AnalysisResult = { charts: {}, gradMeans: {}, dead: {}, trainedModels: acts.every((a) => input.trained.has(a)) };
  box.replaceChildren();
  const charts: [string, XYChart][] = [];
  const chart = (id: string, caption: string, x: string, y: string, logY = false) => {
    const c = new XYChart(figure(box, id, caption), x, y, logY);
    charts.push([id, c]);
    return c;
  };

  // 1. Each function and its derivative over [-5, 5].
  input.onProgress('Analyses: activation functions and their derivatives…');
  const xs = linspace(-5, 5, 201);
  const curves = await Promise.all(acts.map((a) => activationCurve(gpu, a, xs)));
  chart('fn-chart', 'Activation functions f(x)', 'x', 'f(x)').set([...xs], acts.map((a, i) => ({ label: a, ys: [...curves[i]!.f] })));
  chart('dfn-chart', 'Their derivatives f′(x), by autodiff', 'x', 'f′(x)').set([...xs], acts.map((a, i) => ({ label: a, ys: [...curves[i]!.df] })));

  // 2-4 need a model per activation: fresh ones (gradient flow, dead neurons before), trained ones.
  const grads: Float32Array[][] = [];
  const hidden: Float32Array[][] = [];
  for (const a of acts) {
    input.onProgress(`Analyses: gradients, activations and dead neurons of ${a}…`);
    const fresh = init(gpu, input.initKey, input.configOf(a));
    try {
      grads.push(await gradientMagnitudes(fresh, input.batch));
      const model = input.trained.get(a) ?? fresh;
      hidden.push(await hiddenActivations(model, input.batch));
      const trained = input.trained.get(a);
      result.dead[a] = { init: await deadFractions(fresh, input.train), trained: trained ? await deadFractions(trained, input.train) : null };
    } finally {
      fresh.free();
    }
  }

  // 2. Gradient flow: per-layer means (log scale) and each layer's distribution of log10 |g|.
  acts.forEach((a, i) => { result.gradMeans[a] = grads[i]!.map(mean); });
  const layers = grads[0]?.length ?? 0;
  chart('grad-mean-chart', 'Gradient flow at initialisation: mean |∂loss/∂kernel| per layer', 'layer', 'mean |gradient|', true)
    .set(Array.from({ length: layers }, (_, l) => l + 1), acts.map((a) => ({ label: a, ys: result.gradMeans[a]! })));
  for (let l = 0; l < layers; l++) {
    const h = histograms(grads.map((g) => log10Magnitudes(g[l]!)), BINS);
    chart(`grad-hist-${l + 1}`, `Layer ${l + 1} kernel: distribution of log10 |gradient|`, 'log10 |gradient|', 'fraction')
      .set(h.centres, acts.map((a, i) => ({ label: a, ys: h.fractions[i]! })));
  }

  // 3. Activation distributions per hidden layer.
  const when = result.trainedModels ? 'trained models' : 'at initialisation';
  for (let l = 0; l < (hidden[0]?.length ?? 0); l++) {
    const h = histograms(hidden.map((hs) => hs[l]!), BINS);
    chart(`act-hist-${l + 1}`, `Hidden layer ${l + 1} outputs (${when})`, 'activation value', 'fraction')
      .set(h.centres, acts.map((a, i) => ({ label: a, ys: h.fractions[i]! })));
  }

  // 4. Dead neurons, before and after training.
  const pct = (x: number | undefined) => (x === undefined ? '–' : `${(100 * x).toFixed(1)}%`);
  const hiddenLayers = result.dead[acts[0]!]?.init.length ?? 0;
  const head = deadTable.createTHead();
  head.replaceChildren();
  const hr = head.insertRow();
  for (const t of ['Activation', ...Array.from({ length: hiddenLayers }, (_, l) => `Layer ${l + 1}: init → trained`)]) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = t;
    hr.append(th);
  }
  const body = deadTable.tBodies[0] ?? deadTable.createTBody();
  body.replaceChildren(...acts.map((a) => {
    const row = document.createElement('tr');
    row.insertCell().textContent = a;
    const d = result.dead[a]!;
    d.init.forEach((f, l) => { row.insertCell().textContent = `${pct(f)} → ${d.trained ? pct(d.trained[l]) : 'not trained'}`; });
    return row;
  }));

  for (const [id, c] of charts) result.charts[id] = c.counts();
  return result;
}
