// The training loop of a run, free of the DOM and of the GPU. It drives an `Engine` (a stack of
// models that step together: app/engine.ts on the wasm crate, or a fake in the unit tests)
// epoch by epoch, with early stopping and divergence per activation, resume points and the stop
// button, and reports everything as events (app/protocol.ts). It is given its run store.
import { modelsOf, type ActivationName } from './config.js';
import type { TrainerEvent } from './protocol.js';
import type { Progress, ResumePoint, RunRecord, RunStore, SavedRun } from './runs.js';
import { earlyStopping, formatDuration, throughput } from './series.js';

/** A stack of models of one run that train in lockstep on the same batches. */
export interface Engine {
  /** The models of the stack, in order. */
  readonly activations: readonly ActivationName[];
  readonly stepsPerEpoch: number;
  /** Submits steps `from .. from + n` of `epoch`; resolves with their losses and batch
   * accuracies, each `[step][model]`. */
  train(epoch: number, from: number, n: number): Promise<StepMetrics>;
  /** Every model's accuracy on the validation and the test split. */
  evaluate(): Promise<{ val: number[]; test: number[] }>;
  /** Model k as a checkpoint file with `meta` as its notes. */
  checkpoint(k: number, meta: string): Promise<Uint8Array>;
  /** A stack of the models `keep` (indices) continuing from `files`; this one is freed. */
  narrow(keep: number[], files: Uint8Array[]): Promise<Engine>;
  free(): void;
}

/** What a chunk of steps measured: per step, per model. */
export interface StepMetrics { losses: number[][]; accuracies: number[][] }

/** A checkpoint file with the run it belongs to (what "Save checkpoint" downloads). */
export interface Checkpoint { bytes: Uint8Array; progress: Progress }

/** Where a run starts: its records and, for a resumed one, the checkpoints it goes on from. */
export interface Start {
  run: SavedRun;
  epochsDone: number;
  /** The best epoch's checkpoint of each activation in the engine, if it has one. */
  best: Map<ActivationName, Uint8Array>;
  latest: Map<ActivationName, Checkpoint>;
}

export interface LoopDeps {
  emit(event: TrainerEvent): void;
  store?: RunStore;
  now(): number;
  stopped(): boolean;
  /** Resume points are stored at most this often (and at the end): each is a few MB per model. */
  resumeEveryMs?: number;
  /** Metrics are read back about this often: each read waits for the GPU. */
  readEveryMs?: number;
}

export interface Outcome {
  stopped: boolean;
  steps: number;
  best: Map<ActivationName, Uint8Array>;
  latest: Map<ActivationName, Checkpoint>;
}

const MAX_CHUNK = 64;

/** How a stored run goes on from its resume point: the activations still training, from their
 * latest checkpoints (`files`), with every record as it was at that point. */
export function resumeFrom(saved: SavedRun, point: ResumePoint): { start: Start; activations: ActivationName[]; files: Uint8Array[] } {
  const cfg = saved.config;
  const activations = modelsOf(cfg).filter((a) => point.latest[a]);
  const record = (a: ActivationName) => point.records.find((r) => r.activation === a)!;
  return {
    start: {
      run: { ...saved, runs: structuredClone(point.records), finished: false },
      epochsDone: point.epochsDone,
      best: new Map(activations.map((a) => [a, point.best[a] ?? point.latest[a]!])),
      latest: new Map(activations.map((a) => [a, {
        bytes: point.latest[a]!, progress: { app: 'actlab', config: cfg, activation: a, epochsDone: point.epochsDone, record: structuredClone(record(a)) },
      }])),
    },
    activations,
    files: activations.map((a) => point.latest[a]!),
  };
}

/** The record's fields that an `epoch` event carries. */
function summary(r: RunRecord): Omit<RunRecord, 'losses' | 'activation'> {
  const { losses: _, activation: __, ...rest } = r;
  return structuredClone(rest);
}

/** Trains `start.run` from `start.epochsDone` on `engine` (which the loop then owns). */
export async function trainRun(engine: Engine, start: Start, deps: LoopDeps): Promise<Outcome> {
  const { run } = start;
  const cfg = run.config;
  const record = (a: ActivationName) => run.runs.find((r) => r.activation === a)!;
  const best = new Map(start.best);
  const latest = new Map(start.latest);
  const resumeEvery = deps.resumeEveryMs ?? 10_000;
  const readEvery = deps.readEveryMs ?? 250;
  const t0 = deps.now();
  let epochsDone = start.epochsDone;
  let stack: Engine | null = engine;
  let steps = 0;
  let lastSave = -Infinity;
  let storeFailed = false;
  const totalSteps = Math.max(1, (cfg.epochs - epochsDone) * engine.stepsPerEpoch);

  const persist = async (point?: ResumePoint) => {
    try {
      if (point) await deps.store?.saveResume(run.id, point);
      await deps.store?.save(structuredClone(run));
    } catch (e) {
      if (!storeFailed) deps.emit({ type: 'warning', message: `Training goes on, but this browser refused to store the run (${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}): its results will not survive a reload.` });
      storeFailed = true;
    }
  };

  /** This epoch's batch accuracies so far, per model (the epoch's training accuracy). */
  const epochAccuracy = new Map<ActivationName, number[]>();

  /** The losses of steps just read: appended to each activation still training. */
  const take = (s: Engine, epoch: number, read: StepMetrics) => {
    const losses = read.losses;
    s.activations.forEach((a, k) => {
      const r = record(a);
      if (r.divergedAt !== null) return;
      const acc = epochAccuracy.get(a) ?? [];
      epochAccuracy.set(a, acc);
      read.accuracies.forEach((step) => acc.push(step[k]!));
      const at = r.losses.length;
      for (const step of losses) {
        const loss = step[k]!;
        r.losses.push(loss);
        if (!Number.isFinite(loss)) {
          r.divergedAt = r.losses.length;
          deps.emit({ type: 'status', message: `${a} diverged at step ${r.divergedAt} (loss ${loss}): it stops; the others go on.` });
          break;
        }
      }
      deps.emit({ type: 'losses', activation: a, at, values: r.losses.slice(at) });
    });
    steps += losses.length;
    const { stepsPerSec, etaSec } = throughput(steps, deps.now() - t0, totalSteps - steps);
    const r0 = record(s.activations[0]!);
    deps.emit({
      type: 'status',
      message: `${s.activations.length} model${s.activations.length > 1 ? 's' : ''} in one stack: epoch ${epoch}/${cfg.epochs}, `
        + `step ${r0.losses.length - (epoch - 1) * s.stepsPerEpoch}/${s.stepsPerEpoch}, ${stepsPerSec.toFixed(2)} steps/s, about ${formatDuration(etaSec)} left`,
      progress: Math.min(1, steps / totalSteps),
    });
  };

  /** One epoch's steps, a chunk at a time with one chunk queued ahead; false if stopped part-way. */
  const epochSteps = async (s: Engine, epoch: number): Promise<boolean> => {
    let chunk = 1;
    let i = 0;
    let lastRead = deps.now();
    let inflight: { losses: Promise<StepMetrics>; n: number } | null = null;
    while (i < s.stepsPerEpoch && !deps.stopped()) {
      const n = Math.min(chunk, s.stepsPerEpoch - i);
      const next = { losses: s.train(epoch, i, n), n };
      next.losses.catch(() => undefined); // if the chunk before it fails, this one is not awaited
      i += n;
      if (inflight) {
        take(s, epoch, await inflight.losses);
        const now = deps.now();
        // Size the next chunk so a read comes about every `readEvery` ms.
        chunk = Math.max(1, Math.min(MAX_CHUNK, Math.floor(readEvery / Math.max(1e-3, (now - lastRead) / inflight.n))));
        lastRead = now;
      }
      inflight = next;
    }
    if (inflight) take(s, epoch, await inflight.losses);
    return i === s.stepsPerEpoch;
  };

  /** The activation is done: its best epoch's test accuracy goes in the table. */
  const finish = (a: ActivationName) => {
    const r = record(a);
    const es = earlyStopping(r.valAccuracy, cfg.patience);
    r.testAccuracy = r.valAccuracy.length > 0 ? r.testAccuracyByEpoch[es.best] ?? null : r.testAccuracy;
    deps.emit({ type: 'epoch', activation: a, record: summary(r) });
    if (best.has(a)) deps.emit({ type: 'model', activation: a });
  };

  deps.emit({ type: 'run', run });
  await persist();
  try {
    while (stack && epochsDone < cfg.epochs && !deps.stopped()) {
      const s: Engine = stack;
      const epoch = epochsDone + 1;
      const t = deps.now();
      if (!(await epochSteps(s, epoch))) break; // stopped: keep the partial curves, skip the evaluation
      const ms = deps.now() - t;
      deps.emit({ type: 'status', message: `Epoch ${epoch}: evaluating ${s.activations.length} model${s.activations.length > 1 ? 's' : ''}…` });
      const { val, test } = await s.evaluate();
      const done: number[] = [];
      for (const [k, a] of s.activations.entries()) {
        const r = record(a);
        if (r.divergedAt !== null) {
          done.push(k);
          continue;
        }
        r.msPerEpoch.push(ms);
        // Training loss and accuracy of the epoch: the means over its batches.
        const accs = epochAccuracy.get(a) ?? [];
        const stepLosses = r.losses.slice(-s.stepsPerEpoch);
        (r.trainLoss ??= []).push(stepLosses.reduce((x, y) => x + y, 0) / Math.max(1, stepLosses.length));
        (r.trainAccuracy ??= []).push(accs.reduce((x, y) => x + y, 0) / Math.max(1, accs.length));
        epochAccuracy.delete(a);
        r.valAccuracy.push(val[k]!);
        r.testAccuracyByEpoch.push(test[k]!);
        const es = earlyStopping(r.valAccuracy, cfg.patience);
        const progress: Progress = { app: 'actlab', config: cfg, activation: a, epochsDone: epoch, record: structuredClone(r) };
        const bytes = await s.checkpoint(k, JSON.stringify(progress));
        latest.set(a, { bytes, progress });
        if (es.best === r.valAccuracy.length - 1) best.set(a, bytes);
        r.stoppedEarly = es.stop;
        if (es.stop || epoch === cfg.epochs) done.push(k);
        deps.emit({ type: 'epoch', activation: a, record: summary(r) });
      }
      epochsDone = epoch;
      const going = s.activations.filter((_, k) => !done.includes(k));
      for (const k of done) finish(s.activations[k]!);
      if (done.length > 0 || deps.now() - lastSave >= resumeEvery) {
        lastSave = deps.now();
        const point: ResumePoint = { epochsDone, records: structuredClone(run.runs), latest: {}, best: {} };
        for (const a of going) {
          point.latest[a] = latest.get(a)!.bytes;
          point.best[a] = best.get(a) === latest.get(a)!.bytes ? null : best.get(a) ?? null;
        }
        await persist(point);
      }
      if (going.length === 0) {
        s.free();
        stack = null;
      } else if (done.length > 0) {
        deps.emit({ type: 'status', message: `Going on with ${going.join(', ')}…`, progress: null });
        stack = await s.narrow(going.map((a) => s.activations.indexOf(a)), going.map((a) => latest.get(a)!.bytes));
      }
    }
    // Stopped: what trained so far is the result (the run stays unfinished, so it can resume).
    if (stack) {
      const s: Engine = stack;
      const fresh = s.activations.filter((a) => record(a).valAccuracy.length === 0 && record(a).losses.length > 0 && record(a).divergedAt === null);
      const test = fresh.length > 0 ? (await s.evaluate()).test : [];
      for (const [k, a] of s.activations.entries()) {
        if (fresh.includes(a)) {
          record(a).testAccuracy = test[k]!;
          const progress: Progress = { app: 'actlab', config: cfg, activation: a, epochsDone, record: structuredClone(record(a)) };
          best.set(a, await s.checkpoint(k, JSON.stringify(progress)));
        }
        finish(a);
      }
    }
  } finally {
    stack?.free();
  }
  const stopped = deps.stopped();
  run.finished = !stopped;
  deps.emit({ type: 'run', run });
  await persist();
  const secs = (deps.now() - t0) / 1000;
  deps.emit({ type: 'status', message: `${stopped ? 'Stopped' : 'Done'} after ${formatDuration(secs)}: ${steps} steps.`, progress: stopped ? undefined : 1 });
  return { stopped, steps, best, latest };
}
