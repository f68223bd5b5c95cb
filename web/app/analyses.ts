// The tutorial's analyses, computed on the run's device (the GPU or the CPU): activation
// functions and their derivatives, gradient flow at initialisation, hidden-activation
// histograms (of each activation's trained model where it has one) and dead neurons, counted
// over the training images at initialisation and after training.
// The crate computes the numbers; this module bins them into `AnalysisData` for the page to draw
// (web/view/analyses.ts). No DOM here.
import type { Api, Batch, Device, DeviceSplit, Key, TrainConfig, TrainState } from '../sdk/index.js';
import type { Activation } from '../sdk/index.js';
import type { ActivationName } from './config.js';
import { histograms, linspace, log10Magnitudes, mean } from './histogram.js';
import type { AnalysisData } from './protocol.js';

export interface AnalysisInput {
  /** The module and device to compute on (either: the analyses are the Burn path's). */
  api: Api;
  device: Device;
  activations: ActivationName[];
  /** What the crate takes for each activation (a built-in's name or its formula). */
  specOf: (a: ActivationName) => Activation;
  /** The crate config of each activation (same init key for all: same starting point). */
  configOf: (a: ActivationName) => TrainConfig;
  initKey: Key;
  /** One batch (the tutorial uses 256 training images) for gradients and activations. */
  batch: Batch;
  /** The splits dead neurons are counted over (the training and validation images: the
   * notebook's 60,000). */
  deadSplits: DeviceSplit[];
  /** Trained models, where there are any (else the analyses use freshly initialised ones). */
  trained: Map<ActivationName, TrainState>;
  onProgress: (what: string) => void;
}

const BINS = 40;

export async function computeAnalyses(input: AnalysisInput): Promise<AnalysisData> {
  const { api, device, activations: acts } = input;
  const { activationCurve, deadCounts, gradientMagnitudes, hiddenActivations, init } = api;
  // 1. Each function and its derivative over [-5, 5].
  input.onProgress('Analyses: activation functions and their derivatives…');
  const xs = linspace(-5, 5, 201);
  const curves = await Promise.all(acts.map((a) => activationCurve(device, input.specOf(a), xs)));

  // 2-4 need a model per activation: fresh ones (gradient flow, dead neurons before), trained ones.
  const grads: Float32Array[][] = [];
  const hidden: Float32Array[][] = [];
  const dead: AnalysisData['dead'] = [];
  for (const a of acts) {
    input.onProgress(`Analyses: gradients, activations and dead neurons of ${a}…`);
    const fresh = init(device, input.initKey, input.configOf(a));
    try {
      grads.push(await gradientMagnitudes(fresh, input.batch));
      const trained = input.trained.get(a);
      hidden.push(await hiddenActivations(trained ?? fresh, input.batch));
      dead.push({ init: await deadCounts(fresh, input.deadSplits), trained: trained ? await deadCounts(trained, input.deadSplits) : null });
    } finally {
      fresh.free();
    }
  }
  const layers = grads[0]?.length ?? 0;
  const logGrads = grads.map((g) => g.map((x) => log10Magnitudes(x)));
  const binned = (per: readonly (readonly ArrayLike<number>[])[], l: number) => {
    const h = histograms(per.map((p) => p[l]!), BINS);
    return { centres: [...h.centres], fractions: h.fractions.map((f) => [...f]) };
  };
  return {
    activations: [...acts],
    xs: [...xs],
    curves: curves.map((c) => ({ f: [...c.f], df: [...c.df] })),
    gradMeans: grads.map((g) => g.map(mean)),
    gradHist: Array.from({ length: layers }, (_, l) => binned(logGrads, l)),
    actHist: Array.from({ length: hidden[0]?.length ?? 0 }, (_, l) => binned(hidden, l)),
    dead,
    deadImages: input.deadSplits.reduce((n, s) => n + s.len, 0),
    widths: [...(input.configOf(acts[0]!).mlp?.hidden ?? [])],
    trained: acts.map((a) => input.trained.has(a)),
    trainedModels: acts.every((a) => input.trained.has(a)),
  };
}
