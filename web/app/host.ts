// The trainer's side of the page: it owns the wasm module, the GPU, the data and the trained
// models, turns each command (app/protocol.ts) into work, and reports through events. It runs
// in a Web Worker (web/worker.ts) or, where a worker has no WebGPU, on the page's thread: it
// never touches the DOM. The training loop itself is app/trainer.ts.
import {
  FashionData, Gpu, defaultConfig, deviceLost, exportFlax, hasWebGpu, load, loadFashionMnist, predict, range, restoreCheckpoint,
  type Activation, type ByteCache, type GpuSplit, type LoadProgress, type TrainState,
} from '../sdk/index.js';
import { computeAnalyses } from './analyses.js';
import { trainConfigOf, type RunConfig } from './config.js';
import { openStack, runKeys, type StackSplits } from './engine.js';
import { LONG_COMMANDS, NO_WEBGPU_HERE, emptyRecord, type Command, type TrainerEvent } from './protocol.js';
import { parseProgress, type ResumePoint, type RunStore, type SavedRun } from './runs.js';
import { resumeFrom, trainRun, type Checkpoint, type Start } from './trainer.js';

export interface HostDeps {
  emit(event: TrainerEvent): void;
  store?: RunStore;
  cache?: (dataUrl: string) => ByteCache | undefined;
  now(): number;
}


/** The data of one size (`limit` images per split), uploaded once and kept for later runs. */
interface OnGpu { limit: number; data: FashionData; stack: StackSplits; train?: GpuSplit }

function describe(p: LoadProgress): [string, number | null] {
  const mb = (n: number) => (n / 1e6).toFixed(1);
  switch (p.phase) {
    case 'download':
      return [`Downloading FashionMNIST: ${mb(p.loaded)}${p.total ? ` of ${mb(p.total)}` : ''} MB`, p.total ? p.loaded / p.total : null];
    case 'decompress':
      return [`Decompressing ${p.file}…`, null];
    case 'cached':
      return ['Reading FashionMNIST from this browser’s cache…', null];
  }
}

export function createHost(deps: HostDeps): { handle(cmd: Command): void } {
  const { emit } = deps;
  const status = (message: string, progress?: number | null) => emit({ type: 'status', message, progress });
  let gpu: Gpu | undefined;
  let data: FashionData | undefined;
  let onGpu: OnGpu | undefined;
  let busy = false;
  let stop = false;
  let lost = false;
  /** The run in progress or last trained; its results' checkpoints. */
  let run: SavedRun | undefined;
  let best = new Map<Activation, Uint8Array>();
  let latest = new Map<Activation, Checkpoint>();
  const restored = new Map<Activation, TrainState>();
  /** The last resume point of each run, also where there is no IndexedDB. */
  const points = new Map<string, ResumePoint>();
  const store: RunStore | undefined = deps.store && {
    ...deps.store,
    saveResume: (id, point) => {
      points.set(id, point);
      return deps.store!.saveResume(id, point);
    },
  };

  const need = <T>(x: T | undefined, what = 'the GPU and the data are not ready yet'): T => {
    if (x === undefined) throw new Error(what);
    return x;
  };

  const splits = (limit: number): OnGpu => {
    const all = need(data);
    const g = need(gpu);
    const n = Math.min(limit, all.len('train'));
    if (onGpu?.limit === n) return onGpu;
    if (onGpu) {
      Object.values(onGpu.stack).forEach((s) => s.free());
      onGpu.train?.free();
      if (onGpu.data !== all) onGpu.data.free();
    }
    const d = n < all.len('train') ? all.truncate(n) : all;
    onGpu = { limit: n, data: d, stack: { train: d.uploadForStack(g, 'train'), val: d.uploadForStack(g, 'val'), test: d.uploadForStack(g, 'test') } };
    return onGpu;
  };

  /** An activation's best model on the Burn path (samples, Flax export, analyses). */
  const bestModel = (a: Activation): TrainState => {
    const have = restored.get(a);
    if (have) return have;
    const state = restoreCheckpoint(need(gpu), need(best.get(a), `${a} has no trained model yet`)).state;
    restored.set(a, state);
    return state;
  };

  const forget = (keepOnDevice: boolean) => {
    if (keepOnDevice) restored.forEach((s) => s.free());
    restored.clear();
    best = new Map();
    latest = new Map();
  };

  const train = async (start: Start, activations: readonly Activation[], files?: Uint8Array[]) => {
    const cfg = start.run.config;
    run = start.run;
    forget(true);
    status(`Compiling the train step of ${activations.length} model${activations.length > 1 ? 's' : ''} (one stack)…`, null);
    const engine = openStack(need(gpu), splits(cfg.limit).stack, cfg, activations, files);
    // The page shows the first finished model's test images: sent before `done`.
    let first: Activation | undefined;
    const out = await trainRun(engine, start, {
      emit: (e) => {
        if (e.type === 'model') first ??= e.activation;
        emit(e);
      },
      store, now: deps.now, stopped: () => stop,
    });
    best = out.best;
    latest = out.latest;
    if (first && !lost) await samples(first);
  };

  const samples = async (a: Activation) => {
    const o = splits(need(run).config.limit);
    const idx = range(0, Math.min(16, o.data.len('test')));
    const batch = o.data.batch(need(gpu), 'test', idx);
    const predicted = await predict(bestModel(a), batch).finally(() => batch.free());
    emit({ type: 'samples', activation: a, pixels: o.data.pixels('test', idx), labels: o.data.labels('test', idx), predicted });
  };

  const fresh = (cfg: RunConfig, id = `${Date.now()}`): Start => ({
    run: { id, startedAt: Date.now(), config: cfg, runs: cfg.activations.map(emptyRecord), finished: false },
    epochsDone: 0, best: new Map(), latest: new Map(),
  });

  const resume = async (saved: SavedRun) => {
    const point = points.get(saved.id) ?? await deps.store?.resumePoint(saved.id);
    const cfg = saved.config;
    // No epoch was completed (or nothing was stored): the run starts afresh, under its id.
    if (!point) return train(fresh(cfg, saved.id), cfg.activations);
    const { start, activations, files } = resumeFrom(saved, point);
    await train(start, activations, files);
  };

  const continueFile = async (bytes: Uint8Array, epochs: number) => {
    const r = restoreCheckpoint(need(gpu), bytes); // checks the file
    r.state.free();
    const p = parseProgress(r.meta);
    const cfg: RunConfig = { ...p.config, activations: [p.activation], epochs: Math.max(epochs, p.epochsDone) };
    const start = fresh(cfg);
    start.run.runs = [{ ...emptyRecord(p.activation), ...p.record }];
    start.epochsDone = p.epochsDone;
    start.best.set(p.activation, bytes);
    start.latest.set(p.activation, { bytes, progress: p });
    await train(start, [p.activation], [bytes]);
  };

  const watch = (g: Gpu) => {
    void deviceLost(g).then((info) => {
      if (gpu !== g) return;
      lost = true;
      stop = true;
      emit({ type: 'lost', reason: info.reason ?? 'unknown reason', message: info.message, resumable: run !== undefined && !run.finished });
    });
  };

  const analyses = async (cfg: RunConfig) => {
    const o = splits(cfg.limit);
    o.train ??= o.data.upload(need(gpu), 'train');
    const batch = o.train.range(0, Math.min(256, o.train.len));
    try {
      const result = await computeAnalyses({
        gpu: need(gpu), activations: cfg.activations, configOf: (a) => trainConfigOf(cfg, a, defaultConfig()), initKey: runKeys(cfg.seed).init,
        batch, train: o.train, trained: new Map(cfg.activations.filter((a) => best.has(a)).map((a) => [a, bestModel(a)])),
        onProgress: (m) => status(m, null),
      });
      emit({ type: 'analyses', data: result });
      status(`Analyses done (${result.trainedModels ? 'trained models' : 'freshly initialised models: train first to compare'}).`, 1);
    } finally {
      batch.free();
    }
  };

  const commands: Record<Command['type'], (cmd: never) => Promise<void> | void> = {
    start: async (cmd: Extract<Command, { type: 'start' }>) => {
      if (!hasWebGpu()) throw new Error(NO_WEBGPU_HERE);
      status('Loading the WebAssembly module…', null);
      await load();
      status('Starting WebGPU…');
      gpu = await Gpu.create();
      watch(gpu);
      data = await loadFashionMnist(cmd.dataUrl, { cache: deps.cache?.(cmd.dataUrl), onProgress: (p) => status(...describe(p)) });
      emit({ type: 'ready', sizes: { train: data.len('train'), val: data.len('val'), test: data.len('test') } });
      status(`Ready: ${data.len('train')} training, ${data.len('val')} validation and ${data.len('test')} test images. Press Train.`, 0);
    },
    train: (cmd: Extract<Command, { type: 'train' }>) => train(fresh(cmd.config), cmd.config.activations),
    resume: (cmd: Extract<Command, { type: 'resume' }>) => resume(cmd.run),
    continue: (cmd: Extract<Command, { type: 'continue' }>) => continueFile(cmd.bytes, cmd.epochs),
    analyse: (cmd: Extract<Command, { type: 'analyse' }>) => analyses(cmd.config),
    recover: async () => {
      status('Starting a new GPU device…', null);
      gpu = await need(gpu).recreate();
      // Everything on the old device is gone with it: drop (do not free) its objects.
      onGpu = undefined;
      forget(false);
      lost = false;
      watch(gpu);
      if (run && !run.finished) await resume(run);
      else status('A new GPU device is ready.', 0);
    },
    stop: () => {
      stop = true;
      status('Stopping after this step…');
    },
    loseDevice: () => need(gpu).destroy(),
    samples: (cmd: Extract<Command, { type: 'samples' }>) => samples(cmd.activation),
    checkpoint: (cmd: Extract<Command, { type: 'checkpoint' }>) => {
      const c = need(latest.get(cmd.activation), `${cmd.activation} has no completed epoch to save`);
      const name = `actlab-${cmd.activation}-seed${c.progress.config.seed}-epoch${c.progress.epochsDone}.actlab`;
      emit({ type: 'file', name, bytes: c.bytes, mime: 'application/octet-stream' });
    },
    exportFlax: async (cmd: Extract<Command, { type: 'exportFlax' }>) => {
      const bytes = await exportFlax(bestModel(cmd.activation));
      emit({ type: 'file', name: `actlab-${cmd.activation}-params.msgpack`, bytes, mime: 'application/octet-stream' });
    },
  };

  return {
    handle(cmd: Command): void {
      const long = LONG_COMMANDS.has(cmd.type);
      if (long && busy) {
        emit({ type: 'done', command: cmd.type, error: 'the trainer is busy: stop the current run first' });
        return;
      }
      if (long) {
        busy = true;
        stop = false;
      }
      const message = (e: unknown) => (e instanceof Error ? e.message : String(e));
      Promise.resolve()
        .then(() => commands[cmd.type](cmd as never))
        .then(
          () => long && emit({ type: 'done', command: cmd.type, stopped: stop }),
          (e: unknown) => {
            // After a lost device the loss notice says what happened; the error is its echo.
            if (long) emit({ type: 'done', command: cmd.type, error: lost ? undefined : message(e), stopped: lost || undefined });
            else emit({ type: 'status', message: `Error: ${message(e)}`, error: true });
          },
        )
        .finally(() => { if (long) busy = false; });
    },
  };
}
