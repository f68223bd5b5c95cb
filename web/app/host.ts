// The trainer's side of the page: it owns the wasm module, the device, the data and the trained
// models, turns each command (app/protocol.ts) into work, and reports through events. It runs
// in a Web Worker (web/worker.ts) or, where a worker has no WebGPU, on the page's thread: it
// never touches the DOM. The device is the GPU (the page's module: a compiled stack) or the CPU
// (the CPU module: the Burn path, model by model). The training loop itself is app/trainer.ts.
import {
  Gpu, cpuBuild, deviceLost, exportFlax, gpu as gpuApi, hasWebGpu, load, loadCpu, range,
  type Api, type ByteCache, type Device, type DeviceData, type DeviceSplit, type TrainState,
} from '../sdk/index.js';
import { computeAnalyses } from './analyses.js';
import { activationOf, modelOf, modelsOf, trainConfigOf, type ActivationName, type RunConfig } from './config.js';
import { initKeyOf, openStack, runKeys, type StackSplits } from './engine.js';
import { openModels, type ModelSplits } from './models.js';
import { describe } from './progress.js';
import { WorkerFailure, cpuPool, type CpuPool } from './pool.js';
import { GPU_START_FAILED, LONG_COMMANDS, NO_WEBGPU_HERE, emptyRecord, type Command, type TrainerEvent } from './protocol.js';
import { parseProgress, type ResumePoint, type RunStore, type SavedRun } from './runs.js';
import { resumeFrom, trainRun, type Checkpoint, type Start } from './trainer.js';

/** An activation's model of its run's first seed (the one analyses and samples show). */
const firstModel = (cfg: RunConfig, a: ActivationName) => modelsOf({ ...cfg, activations: [a] })[0]!;

/** Where the editor plots a formula: [-5, 5], the analyses' range. */
const PREVIEW_XS = Array.from({ length: 201 }, (_, i) => (i - 100) / 20);

export interface HostDeps {
  emit(event: TrainerEvent): void;
  store?: RunStore;
  cache?: (dataUrl: string) => ByteCache | undefined;
  now(): number;
}

/** The data of one size (`limit` images per split), uploaded once and kept for later runs: for
 * compiled stacks on the GPU, or as the Burn path's splits (the CPU; the GPU's analyses). */
interface OnDevice { limit: number; data: DeviceData; stack?: StackSplits; models?: Partial<ModelSplits> }

/** The device in use: its module's API, and the GPU's own handle where it is one. */
interface Where { api: Api; device: Device; gpu?: Gpu }

export function createHost(deps: HostDeps): { handle(cmd: Command): void } {
  const { emit } = deps;
  const status = (message: string, progress?: number | null) => emit({ type: 'status', message, progress });
  let where: Where | undefined;
  let pool: CpuPool | undefined;
  let dataUrl = '';
  let data: DeviceData | undefined;
  let onDevice: OnDevice | undefined;
  let busy = false;
  let stop = false;
  let lost = false;
  /** The run in progress or last trained; its results' checkpoints. */
  let run: SavedRun | undefined;
  let best = new Map<ActivationName, Uint8Array>();
  let latest = new Map<ActivationName, Checkpoint>();
  const restored = new Map<ActivationName, TrainState>();
  /** The last resume point of each run, also where there is no IndexedDB. */
  const points = new Map<string, ResumePoint>();
  const store: RunStore | undefined = deps.store && {
    ...deps.store,
    saveResume: (id, point) => {
      points.set(id, point);
      return deps.store!.saveResume(id, point);
    },
  };

  const need = <T>(x: T | undefined, what = 'the device and the data are not ready yet'): T => {
    if (x === undefined) throw new Error(what);
    return x;
  };
  /** The device in use: the GPU, or the CPU module's device. */
  const device = () => need(where).device;

  /** Frees what lives on the device (not after a loss: its objects died with it). */
  const drop = () => {
    if (!onDevice) return;
    Object.values(onDevice.stack ?? {}).forEach((s) => s.free());
    Object.values(onDevice.models ?? {}).forEach((s) => s.free());
    if (onDevice.data !== data) onDevice.data.free();
    onDevice = undefined;
  };

  const splits = (limit: number): OnDevice => {
    const all = need(data);
    const n = Math.min(limit, all.len('train'));
    if (onDevice?.limit === n) return onDevice;
    drop();
    const d = n < all.len('train') ? all.truncate(n) : all;
    const g = need(where).gpu;
    onDevice = { limit: n, data: d, models: {} };
    if (g) onDevice.stack = { train: d.uploadForStack(g, 'train'), val: d.uploadForStack(g, 'val'), test: d.uploadForStack(g, 'test') };
    return onDevice;
  };

  /** A split for the Burn path, uploaded on first use. */
  const modelSplit = (o: OnDevice, split: keyof ModelSplits): DeviceSplit => (o.models![split] ??= o.data.upload(device(), split));

  /** The CPU's engine: on the pool, or on this thread for good where its workers cannot start
   * (workers that cannot start workers); any other error (a bad checkpoint) is the run's. */
  const openCpu = async (api: Api, o: OnDevice, cfg: RunConfig, activations: readonly ActivationName[], files?: Uint8Array[]) => {
    if (pool) {
      try {
        return await pool.open(dataUrl, cfg, activations, files);
      } catch (e) {
        if (!(e instanceof WorkerFailure)) throw e;
        emit({ type: 'warning', message: `The CPU workers could not start (${e.message}): training on one core.` });
        pool.terminate();
        pool = undefined;
      }
    }
    return openModels(api, device(), { train: modelSplit(o, 'train'), val: modelSplit(o, 'val'), test: modelSplit(o, 'test') }, cfg, activations, files);
  };

  /** An activation's best model on the Burn path (samples, Flax export, analyses). */
  const bestModel = (a: ActivationName): TrainState => {
    const have = restored.get(a);
    if (have) return have;
    const state = need(where).api.restoreCheckpoint(device(), need(best.get(a), `${a} has no trained model yet`)).state;
    restored.set(a, state);
    return state;
  };

  const forget = (keepOnDevice: boolean) => {
    if (keepOnDevice) restored.forEach((s) => s.free());
    restored.clear();
    best = new Map();
    latest = new Map();
  };

  const train = async (start: Start, activations: readonly ActivationName[], files?: Uint8Array[]) => {
    const cfg = start.run.config;
    run = start.run;
    forget(true);
    const { api, gpu } = need(where);
    const o = splits(cfg.limit);
    const n = `${activations.length} model${activations.length > 1 ? 's' : ''}`;
    const cores = pool ? ` (${Math.min(pool.size, activations.length)} workers)` : '';
    status(gpu ? `Compiling the train step of ${n} (one stack)…` : `Setting up ${n} on the CPU${cores}…`, null);
    const engine = gpu && o.stack
      ? openStack(gpu, o.stack, cfg, activations, files)
      : await openCpu(api, o, cfg, activations, files);
    // The page shows the first finished model's test images: sent before `done`.
    let first: ActivationName | undefined;
    const out = await trainRun(engine, start, {
      emit: (e) => {
        if (e.type === 'model') first ??= e.activation;
        emit(e);
      },
      store, now: deps.now, stopped: () => stop,
    });
    best = out.best;
    latest = out.latest;
    if (!out.stopped && store?.saveModels) {
      // A finished run keeps each activation's trained model (its first seed's) for later visits.
      const keep = Object.fromEntries(cfg.activations.flatMap((a) => {
        const bytes = best.get(firstModel(cfg, a));
        return bytes ? [[a, bytes]] : [];
      }));
      await store.saveModels(start.run.id, keep).catch(() => undefined);
    }
    if (first && !lost) await samples(first);
  };

  const samples = async (a: ActivationName) => {
    const o = splits(need(run).config.limit);
    const idx = range(0, Math.min(16, o.data.len('test')));
    const batch = o.data.batch(device(), 'test', idx);
    const { api } = need(where);
    const cfg = need(run).config;
    // The same images through the model as it started (its seed's init) and as trained.
    const initial = api.init(device(), initKeyOf(api, cfg, a), trainConfigOf(cfg, a, api.defaultConfig()));
    try {
      const predicted = await api.predict(bestModel(a), batch);
      const predictedInit = await api.predict(initial, batch);
      emit({ type: 'samples', activation: a, pixels: o.data.pixels('test', idx), labels: o.data.labels('test', idx), predicted, predictedInit });
    } finally {
      initial.free();
      batch.free();
    }
  };

  const fresh = (cfg: RunConfig, id = `${Date.now()}`): Start => ({
    run: { id, startedAt: Date.now(), config: cfg, runs: modelsOf(cfg).map(emptyRecord), finished: false },
    epochsDone: 0, best: new Map(), latest: new Map(),
  });

  const resume = async (saved: SavedRun) => {
    const point = points.get(saved.id) ?? await deps.store?.resumePoint(saved.id);
    const cfg = saved.config;
    // No epoch was completed (or nothing was stored): the run starts afresh, under its id.
    if (!point) return train(fresh(cfg, saved.id), modelsOf(cfg));
    const { start, activations, files } = resumeFrom(saved, point);
    await train(start, activations, files);
  };

  const continueFile = async (bytes: Uint8Array, epochs: number) => {
    const r = need(where).api.restoreCheckpoint(device(), bytes); // checks the file
    r.state.free();
    const p = parseProgress(r.meta);
    // One model of its run (of one seed, if it had several) goes on alone, with the run's batches.
    const a = modelOf(p.config, p.activation).activation;
    const cfg: RunConfig = { ...p.config, activations: [a], seeds: 1, epochs: Math.max(epochs, p.epochsDone) };
    const start = fresh(cfg);
    start.run.runs = [{ ...emptyRecord(a), ...p.record, activation: a }];
    start.epochsDone = p.epochsDone;
    start.best.set(a, bytes);
    start.latest.set(a, { bytes, progress: { ...p, config: cfg, activation: a } });
    await train(start, [a], [bytes]);
  };

  const watch = (g: Gpu) => {
    void deviceLost(g).then((info) => {
      if (where?.gpu !== g) return;
      lost = true;
      stop = true;
      emit({ type: 'lost', reason: info.reason ?? 'unknown reason', message: info.message, resumable: run !== undefined && !run.finished });
    });
  };

  const analyses = async (cfg: RunConfig, runId?: string) => {
    const o = splits(cfg.limit);
    const { api } = need(where);
    const train = modelSplit(o, 'train');
    const val = modelSplit(o, 'val');
    const batch = train.range(0, Math.min(256, train.len));
    // Each activation's trained model: of this session's run, or as a finished run stored it.
    const trained = new Map<ActivationName, TrainState>();
    const loaded: TrainState[] = [];
    const stored = runId && runId !== run?.id ? await deps.store?.models?.(runId).catch(() => undefined) : undefined;
    for (const a of cfg.activations) {
      const m = firstModel(cfg, a);
      if (runId && runId === run?.id && best.has(m)) trained.set(a, bestModel(m));
      else if (stored?.[a]) {
        const s = api.restoreCheckpoint(device(), stored[a]!).state;
        loaded.push(s);
        trained.set(a, s);
      }
    }
    try {
      const result = await computeAnalyses({
        api, device: device(), activations: cfg.activations, specOf: (a) => activationOf(cfg, a), configOf: (a) => trainConfigOf(cfg, a, api.defaultConfig()),
        initKey: runKeys(api, cfg.seed, cfg.prng).init, batch, deadSplits: val.len > 0 ? [train, val] : [train], trained,
        onProgress: (m) => status(m, null),
      });
      emit({ type: 'analyses', data: { ...result, config: cfg } });
      const some = result.trained.filter(Boolean).length;
      status(`Analyses done (${some === 0 ? 'freshly initialised models: train first to compare' : `${some} of ${cfg.activations.length} trained`}).`, 1);
    } finally {
      batch.free();
      loaded.forEach((s) => s.free());
    }
  };

  const commands: Record<Command['type'], (cmd: never) => Promise<void> | void> = {
    start: async (cmd: Extract<Command, { type: 'start' }>) => {
      const kind = cmd.device ?? 'gpu';
      if (kind === 'gpu' && !hasWebGpu()) throw new Error(NO_WEBGPU_HERE);
      // A second start switches devices: what lives on the old one goes with it.
      drop();
      forget(true);
      data?.free();
      data = undefined;
      where?.gpu?.destroy();
      where = undefined;
      pool?.terminate();
      pool = undefined;
      status(`Loading the WebAssembly module${kind === 'cpu' ? ' for the CPU' : ''}…`, null);
      if (kind === 'gpu') {
        await load();
        status('Starting WebGPU…');
        const g = await Gpu.create().catch((e: unknown) => {
          throw new Error(GPU_START_FAILED + (e instanceof Error ? e.message : String(e)));
        });
        where = { api: gpuApi, device: g, gpu: g };
        watch(g);
      } else {
        const api = await loadCpu({ simd: cmd.simd ?? 'auto' });
        where = { api, device: await api.createDevice() };
        // The workers run the build this thread loaded: the same bits on every core.
        pool = cpuPool(cpuBuild()!);
      }
      dataUrl = cmd.dataUrl;
      data = await where.api.loadFashionMnist(cmd.dataUrl, { cache: deps.cache?.(cmd.dataUrl), onProgress: (p) => status(...describe(p)) });
      emit({ type: 'ready', sizes: { train: data.len('train'), val: data.len('val'), test: data.len('test') }, device: kind, software: where.gpu?.software ?? false, workers: pool?.size ?? 1, cpuBuild: kind === 'cpu' ? cpuBuild()! : null });
      const on = kind === 'cpu' ? ` on the CPU (${cpuBuild() === 'relaxed' ? 'SIMD with fused multiply-add' : 'SIMD'})` : '';
      status(`Ready${on}: ${data.len('train')} training, ${data.len('val')} validation and ${data.len('test')} test images. Press Train.`, 0);
    },
    train: (cmd: Extract<Command, { type: 'train' }>) => train(fresh(cmd.config), modelsOf(cmd.config)),
    resume: (cmd: Extract<Command, { type: 'resume' }>) => resume(cmd.run),
    continue: (cmd: Extract<Command, { type: 'continue' }>) => continueFile(cmd.bytes, cmd.epochs),
    analyse: (cmd: Extract<Command, { type: 'analyse' }>) => analyses(cmd.config, cmd.runId),
    recover: async () => {
      status('Starting a new GPU device…', null);
      const g = await need(where?.gpu, 'only a GPU can be recreated').recreate();
      where = { api: gpuApi, device: g, gpu: g };
      // Everything on the old device is gone with it: drop (do not free) its objects.
      onDevice = undefined;
      forget(false);
      lost = false;
      watch(g);
      if (run && !run.finished) await resume(run);
      else status('A new GPU device is ready.', 0);
    },
    stop: () => {
      stop = true;
      status('Stopping after this step…');
    },
    loseDevice: () => need(where?.gpu, 'the CPU cannot be lost').destroy(),
    samples: (cmd: Extract<Command, { type: 'samples' }>) => samples(cmd.activation),
    preview: (cmd: Extract<Command, { type: 'preview' }>) => {
      const api = where?.api;
      const xs = PREVIEW_XS;
      if (!api) {
        const check = { ok: false, name: null, formula: null, params: null, derivative: null, builtin: null, warning: null, column: null, error: 'the module is still loading' };
        return emit({ type: 'preview', id: cmd.id, check, xs: [], f: [], df: [] });
      }
      const check = api.checkActivation(cmd.activation);
      const v = check.ok ? api.activationValues(cmd.activation, Float64Array.from(xs)) : undefined;
      emit({ type: 'preview', id: cmd.id, check, xs: v ? xs : [], f: v ? [...v.f] : [], df: v ? [...v.df] : [] });
    },
    checkpoint: (cmd: Extract<Command, { type: 'checkpoint' }>) => {
      const c = need(latest.get(cmd.activation), `${cmd.activation} has no completed epoch to save`);
      const name = `actlab-${cmd.activation}-seed${c.progress.config.seed}-epoch${c.progress.epochsDone}.actlab`;
      emit({ type: 'file', name, bytes: c.bytes, mime: 'application/octet-stream' });
    },
    exportJax: async (cmd: Extract<Command, { type: 'exportJax' }>) => {
      const cfg = need(run).config;
      const name = cmd.activation.replace('@', '-seed');
      const r = need(run).runs.find((x) => x.activation === cmd.activation);
      const out = await need(where).api.exportJax(bestModel(cmd.activation), {
        legacy: cfg.prng === 'legacy', paramsFile: `actlab-${name}-params.msgpack`, testAccuracy: r?.testAccuracy ?? undefined,
      });
      emit({ type: 'file', name: `actlab-${name}-params.msgpack`, bytes: out.params, mime: 'application/octet-stream' });
      emit({ type: 'file', name: `actlab-${name}-continue.py`, bytes: new TextEncoder().encode(out.script), mime: 'text/x-python' });
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
