// What the page and the trainer say to each other: commands one way, events the other. Both
// are plain, structured-cloneable objects, so the same messages go through a Worker's
// postMessage or a direct call (tests, the same-thread fallback). `applyEvent` is how the page
// keeps its copy of the run from the events alone. Pure, unit-tested.
import type { CpuBuild } from '../sdk/simd.js';
import type { Activation, ActivationCheck } from '../sdk/types.js';
import type { ActivationName, RunConfig } from './config.js';
import type { RunRecord, SavedRun } from './runs.js';

/** What the analyses computed, binned for the charts (see app/analyses.ts). */
export interface AnalysisData {
  activations: ActivationName[];
  xs: number[];
  /** f(x) and f'(x) per activation. */
  curves: { f: number[]; df: number[] }[];
  /** Mean |dLoss/dKernel| per layer per activation, at initialisation. */
  gradMeans: number[][];
  /** Per kernel layer: bin centres and, per activation, the fraction in each bin. */
  gradHist: { centres: number[]; fractions: number[][] }[];
  /** Per hidden layer, the same for the layer's outputs. */
  actHist: { centres: number[]; fractions: number[][] }[];
  /** Per activation, the dead units (counts) per hidden layer, before and after training. */
  dead: { init: number[]; trained: number[] | null }[];
  /** The training images dead neurons were counted over, and each hidden layer's width. */
  deadImages: number;
  widths: number[];
  /** Per activation: whether its histograms and trained counts are of a trained model. */
  trained: boolean[];
  /** Whether every activation had a trained model. */
  trainedModels: boolean;
  /** The run settings they were computed for (in the JSON export with them). */
  config?: RunConfig;
}

/** Where the trainer runs its models: the GPU (WebGPU, compiled stacks) or the CPU module. */
export type DeviceKind = 'gpu' | 'cpu';

export type Command =
  /** Load the module, start the device (the GPU unless `device` says the CPU) and load the
   * data. Again later: switch devices (what was on the old one is dropped). `simd`: which CPU
   * module build (default `auto`: relaxed SIMD where the engine has it). */
  | { type: 'start'; dataUrl: string; device?: DeviceKind; simd?: 'auto' | CpuBuild }
  | { type: 'train'; config: RunConfig }
  /** Continue an unfinished run from its stored resume point. */
  | { type: 'resume'; run: SavedRun }
  /** Continue a checkpoint file saved by the page, to `epochs` epochs. */
  | { type: 'continue'; bytes: Uint8Array; epochs: number }
  | { type: 'stop' }
  /** The analyses of `config`'s models: the trained ones of run `runId` where it has them
   * (from this session or from storage), freshly initialised ones otherwise. */
  | { type: 'analyse'; config: RunConfig; runId?: string }
  | { type: 'samples'; activation: ActivationName }
  /** The last completed epoch's checkpoint file of an activation. */
  | { type: 'checkpoint'; activation: ActivationName }
  /** The best model of an activation as Flax's `to_bytes` writes it. */
  | { type: 'exportFlax'; activation: ActivationName }
  /** The best model of an activation and the Python script that continues it in JAX. */
  | { type: 'exportJax'; activation: ActivationName }
  /** After a lost device: a new one, and the unfinished run resumed on it. */
  | { type: 'recover' }
  /** Checks an activation as it is typed; the `preview` event of the same `id` answers. */
  | { type: 'preview'; id: number; activation: Activation }
  /** For tests: destroys the device, as a driver reset would lose it. */
  | { type: 'loseDevice' };

/** The error of `start` where the thread has no WebGPU (a worker in some browsers): the page
 * then runs the trainer on its own thread. */
export const NO_WEBGPU_HERE = 'no WebGPU in this context';
/** How a start's error begins when WebGPU itself (its adapter or device) failed, not the data. */
export const GPU_START_FAILED = 'WebGPU gave no device: ';

/** Which commands run long (the page shows them as busy until `done`). */
export const LONG_COMMANDS: ReadonlySet<Command['type']> = new Set(['start', 'train', 'resume', 'continue', 'analyse', 'recover']);

export type TrainerEvent =
  | { type: 'status'; message: string; progress?: number | null; error?: boolean }
  /** Something the user should know while work goes on (shown until dismissed). */
  | { type: 'warning'; message: string }
  /** Started on `device`; `software`: the GPU is a CPU implementation (the CPU module is faster);
   * `workers`: on the CPU, how many workers (cores) share a run's models; `cpuBuild`: on the
   * CPU, which build of its module runs (relaxed SIMD or plain). */
  | { type: 'ready'; sizes: { train: number; val: number; test: number }; device: DeviceKind; software: boolean; workers: number; cpuBuild: CpuBuild | null }
  /** A run starts, resumes or ends: its config and every record as they are now. */
  | { type: 'run'; run: SavedRun }
  /** Losses of an activation, the first at index `at` of its curve. */
  | { type: 'losses'; activation: ActivationName; at: number; values: number[] }
  /** An activation's record after an epoch (every field but the losses). */
  | { type: 'epoch'; activation: ActivationName; record: Omit<RunRecord, 'losses' | 'activation'> }
  /** An activation's best model is ready (samples, Flax export, analyses). */
  | { type: 'model'; activation: ActivationName }
  /** Test images with the classes a model predicts, trained and at initialisation. */
  | { type: 'samples'; activation: ActivationName; pixels: Uint8Array; labels: Uint8Array; predicted: Uint32Array; predictedInit: Uint32Array }
  | { type: 'analyses'; data: AnalysisData }
  /** A checked activation and, if it parses, f and f' on `xs` (the scalar evaluator, float64). */
  | { type: 'preview'; id: number; check: ActivationCheck; xs: number[]; f: number[]; df: number[] }
  | { type: 'file'; name: string; bytes: Uint8Array; mime: string }
  | { type: 'lost'; reason: string; message: string; resumable: boolean }
  /** A long command ended: `error` says why it failed, `stopped` whether the user stopped it. */
  | { type: 'done'; command: Command['type']; error?: string; stopped?: boolean };

/** An empty record for an activation about to train. */
export function emptyRecord(activation: ActivationName): RunRecord {
  return { activation, losses: [], valAccuracy: [], testAccuracyByEpoch: [], testAccuracy: null, msPerEpoch: [], stoppedEarly: false, divergedAt: null };
}

/** The page's run after `event` (the same object, updated), or a copy of a `run` event's. */
export function applyEvent(run: SavedRun | null, event: TrainerEvent): SavedRun | null {
  if (event.type === 'run') return structuredClone(event.run);
  if (!run) return run;
  const rec = 'activation' in event ? run.runs.find((r) => r.activation === event.activation) : undefined;
  if (event.type === 'losses' && rec) {
    rec.losses.length = Math.min(rec.losses.length, event.at);
    rec.losses.push(...event.values);
  } else if (event.type === 'epoch' && rec) {
    Object.assign(rec, structuredClone(event.record));
  }
  return run;
}
