// The training loop without a DOM or a GPU: a fake engine whose losses and accuracies are
// scripted per activation and epoch, and an in-memory run store.
import { describe, expect, it } from 'vitest';
import type { ActivationName as Activation } from './config.js';
import { DEFAULT_RUN, type RunConfig } from './config.js';
import { emptyRecord, type TrainerEvent } from './protocol.js';
import type { ResumePoint, RunStore, SavedRun } from './runs.js';
import { resumeFrom, trainRun, type Engine, type LoopDeps, type Start, type StepMetrics } from './trainer.js';

const STEPS = 5;

/** Validation accuracy per activation and epoch (test accuracy is 0.01 below). */
type Script = Partial<Record<Activation, number[]>>;

interface Log { narrowed: Activation[][]; freed: number; trained: Record<string, number> }

/** A loss that depends only on (activation, epoch, step), like a deterministic GPU. */
const lossOf = (a: Activation, epoch: number, step: number) => a.length + 1 / (epoch * STEPS + step + 1);

class FakeEngine implements Engine {
  readonly stepsPerEpoch = STEPS;
  private epochOf: number;

  constructor(readonly activations: Activation[], private readonly script: Script, private readonly log: Log, epochsDone: number,
    private readonly failAt?: { epoch: number; step: number }, private readonly nanAt?: { a: Activation; step: number }) {
    this.epochOf = epochsDone;
  }

  train(epoch: number, from: number, n: number): Promise<StepMetrics> {
    this.epochOf = epoch;
    if (this.failAt && epoch === this.failAt.epoch && from + n > this.failAt.step) return Promise.reject(new Error('device lost'));
    for (const a of this.activations) this.log.trained[a] = (this.log.trained[a] ?? 0) + n;
    const losses = Array.from({ length: n }, (_, i) => this.activations.map((a) => {
      const global = (epoch - 1) * STEPS + from + i + 1;
      return this.nanAt?.a === a && global >= this.nanAt.step ? NaN : lossOf(a, epoch, from + i);
    }));
    return Promise.resolve({ losses, accuracies: losses.map((r) => r.map(() => 0.25 + 0.1 * epoch)) });
  }

  evaluate(): Promise<{ val: number[]; test: number[] }> {
    const val = this.activations.map((a) => this.script[a]?.[this.epochOf - 1] ?? 0.5);
    return Promise.resolve({ val, test: val.map((v) => v - 0.01) });
  }

  checkpoint(k: number, meta: string): Promise<Uint8Array> {
    return Promise.resolve(new TextEncoder().encode(JSON.stringify({ a: this.activations[k], epoch: this.epochOf, meta })));
  }

  narrow(keep: number[], files: Uint8Array[]): Promise<Engine> {
    const acts = keep.map((k) => this.activations[k]!);
    expect(files.map((f) => JSON.parse(new TextDecoder().decode(f)).a)).toEqual(acts);
    this.log.narrowed.push(acts);
    this.free();
    return Promise.resolve(new FakeEngine(acts, this.script, this.log, this.epochOf, this.failAt, this.nanAt));
  }

  free(): void {
    this.log.freed++;
  }
}

function memoryStore(): RunStore & { runs: Map<string, SavedRun>; points: Map<string, ResumePoint> } {
  const runs = new Map<string, SavedRun>();
  const points = new Map<string, ResumePoint>();
  return {
    runs, points,
    save: async (r) => { runs.set(r.id, structuredClone(r)); },
    saveResume: async (id, p) => { points.set(id, structuredClone(p)); },
    resumePoint: async (id) => points.get(id),
    list: async () => [...runs.values()],
    clear: async () => { runs.clear(); points.clear(); },
  };
}

function fresh(cfg: RunConfig): Start {
  return { run: { id: 'r1', startedAt: 0, config: cfg, runs: cfg.activations.map(emptyRecord), finished: false }, epochsDone: 0, best: new Map(), latest: new Map() };
}

function setup(cfg: Partial<RunConfig>, script: Script, opts: { stopWhen?: (e: TrainerEvent) => boolean; failAt?: { epoch: number; step: number }; nanAt?: { a: Activation; step: number } } = {}) {
  const config: RunConfig = { ...DEFAULT_RUN, activations: ['tanh', 'relu'], epochs: 6, patience: 2, ...cfg };
  const log: Log = { narrowed: [], freed: 0, trained: {} };
  const events: TrainerEvent[] = [];
  const store = memoryStore();
  let stopped = false;
  let clock = 0;
  const deps: LoopDeps = {
    emit: (e) => { events.push(structuredClone(e)); if (opts.stopWhen?.(e)) stopped = true; },
    store, now: () => (clock += 10), stopped: () => stopped, resumeEveryMs: 0,
  };
  const engine = (acts = config.activations, done = 0) => new FakeEngine([...acts], script, log, done, opts.failAt, opts.nanAt);
  return { config, log, events, store, deps, engine };
}

const rec = (run: SavedRun, a: Activation) => run.runs.find((r) => r.activation === a)!;

describe('trainRun', () => {
  it('stops each activation early on its own and trains the rest in a narrower stack', async () => {
    const t = setup({}, { relu: [0.5, 0.6, 0.55, 0.54, 0.53, 0.52], tanh: [0.5, 0.6, 0.7, 0.8, 0.85, 0.9] });
    const start = fresh(t.config);
    const out = await trainRun(t.engine(), start, t.deps);
    const relu = rec(start.run, 'relu');
    const tanh = rec(start.run, 'tanh');
    // relu's best is epoch 2; two epochs without a better one (patience 2) end it after epoch 4.
    expect(relu.valAccuracy).toEqual([0.5, 0.6, 0.55, 0.54]);
    expect(relu.stoppedEarly).toBe(true);
    expect(relu.testAccuracy).toBeCloseTo(0.59, 10);
    expect(relu.losses).toHaveLength(4 * STEPS);
    expect(tanh.valAccuracy).toHaveLength(6);
    expect(tanh.stoppedEarly).toBe(false);
    expect(tanh.testAccuracy).toBeCloseTo(0.89, 10);
    expect(tanh.losses).toEqual(Array.from({ length: 6 * STEPS }, (_, i) => lossOf('tanh', Math.floor(i / STEPS) + 1, i % STEPS)));
    expect(t.log.narrowed).toEqual([['tanh']]);
    expect(t.log.trained).toEqual({ tanh: 6 * STEPS, relu: 4 * STEPS });
    expect(t.log.freed).toBe(2); // the pair when narrowed, then tanh alone
    expect(JSON.parse(new TextDecoder().decode(out.best.get('relu')!)).epoch).toBe(2);
    expect(out.latest.get('relu')!.progress.epochsDone).toBe(4);
    expect(start.run.finished).toBe(true);
    expect(out.stopped).toBe(false);
    expect(t.events.filter((e) => e.type === 'model').map((e) => (e as { activation: string }).activation)).toEqual(['relu', 'tanh']);
    expect(t.store.runs.get('r1')!.finished).toBe(true);
  });

  it('records each epoch\'s training loss and accuracy (the means of its batches) beside validation', async () => {
    const t = setup({ epochs: 2 }, {});
    const start = fresh(t.config);
    await trainRun(t.engine(), start, t.deps);
    const tanh = rec(start.run, 'tanh');
    expect(tanh.trainAccuracy!.map((x) => +x.toFixed(6))).toEqual([0.35, 0.45]);
    const first = tanh.losses.slice(0, STEPS);
    expect(tanh.trainLoss![0]).toBeCloseTo(first.reduce((a, b) => a + b, 0) / STEPS, 12);
  });

  it('resumes from the stored point after a reload exactly as an uninterrupted run', async () => {
    const script: Script = { relu: [0.5, 0.6, 0.55, 0.54, 0.53], tanh: [0.5, 0.6, 0.7, 0.8, 0.85, 0.9] };
    const whole = setup({}, script);
    const wholeStart = fresh(whole.config);
    await trainRun(whole.engine(), wholeStart, whole.deps);

    // The page reloads during epoch 3: nothing after epoch 2's resume point survives.
    const cut = setup({}, script, { failAt: { epoch: 3, step: 2 } });
    await expect(trainRun(cut.engine(), fresh(cut.config), cut.deps)).rejects.toThrow('device lost');
    const point = cut.store.points.get('r1')!;
    expect(point.epochsDone).toBe(2);
    expect(Object.keys(point.latest)).toEqual(['tanh', 'relu']);
    expect(cut.store.runs.get('r1')!.finished).toBe(false);

    const again = setup({}, script);
    const { start, activations, files } = resumeFrom(cut.store.runs.get('r1')!, point);
    expect(files.map((f) => JSON.parse(new TextDecoder().decode(f)).epoch)).toEqual([2, 2]);
    await trainRun(again.engine(activations, 2), start, again.deps);
    expect(start.run.runs).toEqual(wholeStart.run.runs);
    expect(again.log.trained).toEqual({ tanh: 4 * STEPS, relu: 2 * STEPS });
  });

  it('marks a diverged activation, keeps its curve up to the bad step, and trains the others', async () => {
    const t = setup({ epochs: 2 }, {}, { nanAt: { a: 'relu', step: 3 } });
    const start = fresh(t.config);
    await trainRun(t.engine(), start, t.deps);
    const relu = rec(start.run, 'relu');
    expect(relu.divergedAt).toBe(3);
    expect(relu.losses).toHaveLength(3);
    expect(Number.isNaN(relu.losses[2])).toBe(true);
    expect(relu.valAccuracy).toEqual([]);
    expect(relu.testAccuracy).toBeNull();
    expect(rec(start.run, 'tanh').losses).toHaveLength(2 * STEPS);
    expect(t.log.narrowed).toEqual([['tanh']]);
    expect(t.events.some((e) => e.type === 'status' && e.message.startsWith('relu diverged at step 3'))).toBe(true);
  });

  it('stops part-way through an epoch when asked: the partial curves stay, the run stays unfinished', async () => {
    let reads = 0;
    const t = setup({}, { relu: [0.5, 0.7], tanh: [0.6, 0.65] }, {
      stopWhen: (e) => e.type === 'losses' && e.activation === 'relu' && e.at >= STEPS && ++reads === 1,
    });
    const start = fresh(t.config);
    const out = await trainRun(t.engine(), start, t.deps);
    expect(out.stopped).toBe(true);
    for (const a of ['relu', 'tanh'] as const) {
      const r = rec(start.run, a);
      expect(r.valAccuracy).toHaveLength(1);
      expect(r.losses.length).toBeGreaterThan(STEPS);
      expect(r.losses.length).toBeLessThan(2 * STEPS);
      expect(r.testAccuracy).not.toBeNull(); // the best (only) epoch's
    }
    expect(start.run.finished).toBe(false);
    expect(t.store.points.get('r1')!.epochsDone).toBe(1);
    expect(t.log.freed).toBe(1);
  });

  it('frees the stack and keeps the last resume point when the device is lost mid-epoch', async () => {
    const t = setup({}, {}, { failAt: { epoch: 2, step: 1 } });
    await expect(trainRun(t.engine(), fresh(t.config), t.deps)).rejects.toThrow('device lost');
    expect(t.log.freed).toBe(1);
    const point = t.store.points.get('r1')!;
    expect(point.epochsDone).toBe(1);
    expect(point.records.map((r) => r.losses.length)).toEqual([STEPS, STEPS]);
  });

  it('keeps training when the store refuses to save, and says the results will not survive a reload', async () => {
    const t = setup({ epochs: 1 }, {});
    t.deps.store = { ...t.store, save: () => Promise.reject(new Error('QuotaExceededError')) };
    const start = fresh(t.config);
    await trainRun(t.engine(), start, t.deps);
    expect(start.run.finished).toBe(true);
    const warnings = t.events.filter((e) => e.type === 'warning' && e.message.includes('will not survive a reload'));
    expect(warnings).toHaveLength(1);
  });
});
