// The page: UI glue only. Numerics live in the wasm crate (through ./sdk), settings parsing and
// chart shaping in ./app (unit-tested); this file wires them to the DOM and runs the loop.
import {
  ACTIVATIONS, Gpu, deviceLost, evalStep, exportFlax, foldIn, hasWebGpu, init, key, load, loadFashionMnist, predict, range,
  readMetrics, restoreCheckpoint, saveCheckpoint, split, trainStep, type Activation, type DeviceLoss, type FashionData,
  type GpuSplit, type Key, type LoadProgress, type PendingMetrics, type TrainState,
} from './sdk/index.js';
import { DEFAULT_RUN, formValuesOf, parseRunConfig, trainConfigOf, type FormValues, type RunConfig } from './app/config.js';
import { COLOURS, LiveChart, chartsPng } from './app/charts.js';
import { runAnalyses, type AnalysisResult } from './app/analyses.js';
import { idbRuns, parseProgress, type Progress, type RunRecord, type SavedRun } from './app/runs.js';
import { earlyStopping, formatDuration, throughput } from './app/series.js';
import { idbCache } from './app/cache.js';
import { renderSamples } from './app/samples.js';
import { PUBLISHED_JAX, PUBLISHED_PYTORCH, publishedCells, tutorialPreset } from './app/published.js';

/** Read by the end-to-end tests and handy in the console: the runs and what the charts hold. */
interface Inspect {
  config: RunConfig | null;
  runs: RunRecord[];
  chartPoints: () => { loss: Record<string, number>; accuracy: Record<string, number> };
  state: 'loading' | 'ready' | 'training' | 'error';
  analyses: AnalysisResult | null;
  /** Set if the GPU device was lost. */
  lost: DeviceLoss | null;
  /** For tests: destroys the GPU device, as a driver reset would lose it. */
  loseDevice: () => void;
}
declare global {
  interface Window { actlab: Inspect }
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const statusEl = $('status');
const progressEl = $<HTMLProgressElement>('progress');
const form = $<HTMLFormElement>('controls');
const trainBtn = $<HTMLButtonElement>('train');
const stopBtn = $<HTMLButtonElement>('stop');
const downloadBtn = $<HTMLButtonElement>('download');
const analyseBtn = $<HTMLButtonElement>('analyse');
const pngBtn = $<HTMLButtonElement>('download-png');
const saveCkptBtn = $<HTMLButtonElement>('save-checkpoint');
const flaxBtn = $<HTMLButtonElement>('export-flax');
const loadCkptInput = $<HTMLInputElement>('load-checkpoint');
const savedSelect = $<HTMLSelectElement>('saved-runs');
const forgetBtn = $<HTMLButtonElement>('forget-runs');
const sampleSelect = $<HTMLSelectElement>('sample-model');
const lossChart = new LiveChart($('loss-chart'), 'loss', 'step', 0.9);
const accChart = new LiveChart($('acc-chart'), 'accuracy', 'epoch');
const yieldToBrowser = () => new Promise<void>((r) => setTimeout(r, 0));
const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));
/** Metrics are read back at most this often: each read waits for the GPU. */
const READ_EVERY_MS = 250;

const inspect: Inspect = {
  config: null,
  runs: [],
  chartPoints: () => ({ loss: lossChart.counts(), accuracy: accChart.counts() }),
  state: 'loading',
  analyses: null,
  lost: null,
  loseDevice: () => { throw new Error('no GPU device yet'); },
};
window.actlab = inspect;

function say(msg: string, opts: { error?: boolean; progress?: number | null } = {}): void {
  statusEl.textContent = msg;
  statusEl.classList.toggle('error', opts.error ?? false);
  if (opts.error) inspect.state = 'error';
  if (opts.progress === null) progressEl.removeAttribute('value');
  else if (opts.progress !== undefined) progressEl.value = opts.progress;
}

function dataUrl(): string {
  return new URLSearchParams(location.search).get('data') ?? import.meta.env.VITE_DATA_URL ?? '/data/fashion-mnist/';
}

// ---- the form -------------------------------------------------------------------------------

function buildForm(): void {
  const box = $('activations');
  for (const a of ACTIVATIONS) {
    const label = document.createElement('label');
    label.innerHTML = `<input type="checkbox" name="activations" value="${a}">`
      + `<span class="swatch" style="background:${COLOURS[a]}" aria-hidden="true"></span>${a}`;
    box.append(label);
  }
  // Settings come from the defaults, overridden by the query string (shareable runs).
  const q = new URLSearchParams(location.search);
  const values: FormValues = formValuesOf(DEFAULT_RUN);
  for (const name of Object.keys(values) as (keyof FormValues)[]) {
    const v = q.get(name);
    if (v === null) continue;
    if (name === 'activations') values.activations = v.split(',');
    else values[name] = v;
  }
  fillForm(values);
}

function fillForm(values: FormValues): void {
  for (const [name, v] of Object.entries(values)) {
    if (name === 'activations') {
      for (const box of form.querySelectorAll<HTMLInputElement>('input[name=activations]')) box.checked = (v as string[]).includes(box.value);
    } else {
      (form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement).value = v as string;
    }
  }
}

function readForm(): RunConfig | null {
  const fd = new FormData(form);
  const values: FormValues = { activations: fd.getAll('activations').map(String) };
  for (const name of Object.keys(formValuesOf(DEFAULT_RUN)) as (keyof FormValues)[]) {
    if (name !== 'activations') values[name] = String(fd.get(name) ?? '');
  }
  const parsed = parseRunConfig(values);
  const list = $('form-errors');
  list.replaceChildren();
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  if (parsed.ok) return parsed.config;
  for (const [field, msg] of Object.entries(parsed.errors)) {
    const li = document.createElement('li');
    li.id = `${field}-error`;
    li.textContent = msg;
    list.append(li);
    (form.elements.namedItem(field) as HTMLElement | null)?.setAttribute?.('aria-invalid', 'true');
  }
  return null;
}

// ---- results --------------------------------------------------------------------------------

function redraw(runs: RunRecord[], patience: number): void {
  lossChart.set(runs.map((r) => ({ label: r.activation, ys: r.losses })));
  accChart.set(runs.map((r) => ({ label: r.activation, ys: r.valAccuracy })));
  const pct = (x: number | null | undefined) => (x === null || x === undefined ? '–' : `${(100 * x).toFixed(2)}%`);
  $('results').querySelector('tbody')!.replaceChildren(...runs.map((r) => {
    const row = document.createElement('tr');
    const mean = r.msPerEpoch.length ? r.msPerEpoch.reduce((a, b) => a + b, 0) / r.msPerEpoch.length / 1000 : NaN;
    for (const v of [r.activation, `${r.valAccuracy.length}${r.stoppedEarly ? ' (early stop)' : ''}`,
      pct(r.valAccuracy[earlyStopping(r.valAccuracy, patience).best]), pct(r.testAccuracy), formatDuration(mean),
      ...publishedCells(r.activation, r.testAccuracy)]) {
      row.insertCell().textContent = v;
    }
    return row;
  }));
}

async function accuracy(state: TrainState, part: GpuSplit): Promise<number> {
  const n = part.len;
  const pending: PendingMetrics[] = [];
  const sizes: number[] = [];
  for (let s = 0; s < n; s += 1000) {
    sizes.push(Math.min(1000, n - s));
    const batch = part.range(s, sizes.at(-1)!);
    pending.push(evalStep(state, batch));
    batch.free();
  }
  // One readback for all batches; weighted by batch size (the last may be smaller).
  const read = await readMetrics(pending);
  return read.reduce((acc, m, i) => acc + m.accuracy * (sizes[i] ?? 0), 0) / n;
}

async function showSamples(models: Map<string, TrainState>, gpu: Gpu, data: FashionData): Promise<void> {
  const state = models.get(sampleSelect.value);
  if (!state) return;
  const idx = range(0, Math.min(16, data.len('test')));
  const batch = data.batch(gpu, 'test', idx);
  const predicted = await predict(state, batch);
  batch.free();
  renderSamples($('samples'), data.pixels('test', idx), data.labels('test', idx), predicted);
}

// ---- training -------------------------------------------------------------------------------

/** The data of one size (`limit` images per split) with its splits on the GPU: uploaded once,
 * kept for later runs of the same size. */
interface OnGpu { limit: number; data: FashionData; splits: Record<'train' | 'val' | 'test', GpuSplit> }

interface Session {
  gpu: Gpu;
  data: FashionData;
  /** Best model per activation (test accuracy, samples, Flax export, analyses). */
  models: Map<string, TrainState>;
  /** Checkpoint of each activation's last completed epoch ("Save checkpoint"). */
  checkpoints: Map<string, { bytes: Uint8Array; progress: Progress }>;
  stop: boolean;
  onGpu?: OnGpu;
  /** The run in progress or last shown (persisted when there is IndexedDB). */
  run?: SavedRun;
  /** Set when the GPU device is lost: nothing on it can be used again. */
  lost?: DeviceLoss;
}

function onGpu(s: Session, wanted: number): OnGpu {
  const limit = Math.min(wanted, s.data.len('train'));
  if (s.onGpu?.limit === limit) return s.onGpu;
  if (s.onGpu) {
    Object.values(s.onGpu.splits).forEach((split) => split.free());
    if (s.onGpu.data !== s.data) s.onGpu.data.free();
  }
  const data = limit < s.data.len('train') ? s.data.truncate(limit) : s.data;
  const splits = { train: data.upload(s.gpu, 'train'), val: data.upload(s.gpu, 'val'), test: data.upload(s.gpu, 'test') };
  s.onGpu = { limit, data, splits };
  return s.onGpu;
}

/** Where the keys of a run come from: one root key per seed. Every activation starts from the
 * same key-derived params and sees the same batch order, so curves differ only by activation. */
function runKeys(seed: number): { root: Key; init: Key; order: Key } {
  const root = key(seed);
  const keys = split(root, 2);
  return { root, init: keys.slice(0, 2), order: keys.slice(2, 4) };
}

/** An activation picked up mid-way: from a checkpoint, after a reload or a lost device. */
interface Continued {
  activation: Activation; state: TrainState; best: TrainState; record: RunRecord; epochsDone: number;
  /** The checkpoint of `best` when it is not `state`. */
  bestBytes: Uint8Array | null;
}

async function train(cfg: RunConfig, s: Session, from?: { run: SavedRun; continued?: Continued }): Promise<void> {
  // Return to the event loop first: the click that started us completes, and the status is
  // painted before the first step compiles its GPU kernels (which holds the main thread).
  await yieldToBrowser();
  // The images are on the GPU; every batch is gathered and normalised there.
  const { data, splits } = onGpu(s, cfg.limit);
  const gpu = s.gpu; // a lost device is replaced: this run then ends
  const keys = runKeys(cfg.seed);
  const stepsPerEpoch = Math.floor(data.len('train') / cfg.batchSize);
  const run: SavedRun = from?.run ?? { id: `${Date.now()}`, startedAt: Date.now(), config: cfg, runs: [], finished: false };
  run.config = cfg;
  run.finished = false;
  s.run = run;
  const runs = run.runs;
  inspect.runs = runs;
  inspect.config = cfg;
  if (!from) {
    s.models.forEach((m) => m.free());
    s.models.clear();
    s.checkpoints.clear();
    sampleSelect.replaceChildren();
    sampleSelect.disabled = true;
  }
  const todo = cfg.activations.filter((a) => !runs.some((r) => r.activation === a && r.testAccuracy !== null));
  const totalSteps = todo.length * cfg.epochs * stepsPerEpoch;
  let done = 0;
  const t0 = performance.now();
  let firstStep = true;

  for (const activation of todo) {
    const cont = from?.continued?.activation === activation ? from.continued : undefined;
    const rec: RunRecord = cont?.record ?? { activation, losses: [], valAccuracy: [], testAccuracy: null, msPerEpoch: [], stoppedEarly: false };
    const at = runs.findIndex((r) => r.activation === activation);
    if (at >= 0) runs[at] = rec;
    else runs.push(rec);
    let state = cont?.state ?? init(gpu, keys.init, trainConfigOf(cfg, activation));
    let best = cont?.best ?? state;
    let bestBytes = cont?.bestBytes ?? null;
    for (let epoch = (cont?.epochsDone ?? 0) + 1; epoch <= cfg.epochs && !s.stop; epoch++) {
      const epochStart = performance.now();
      let pending: PendingMetrics[] = [];
      let lastRead = performance.now();
      const flush = async () => {
        const read = pending;
        pending = [];
        for (const m of await readMetrics(read)) rec.losses.push(m.loss);
        lastRead = performance.now();
        const { stepsPerSec, etaSec } = throughput(done, lastRead - t0, totalSteps - done);
        say(`${activation} (${cfg.activations.indexOf(activation) + 1}/${cfg.activations.length}): epoch ${epoch}/${cfg.epochs}, `
          + `step ${rec.losses.length - (epoch - 1) * stepsPerEpoch}/${stepsPerEpoch}, loss ${rec.losses.at(-1)?.toFixed(4)}, `
          + `${stepsPerSec.toFixed(2)} steps/s, about ${formatDuration(etaSec)} left`, { progress: done / totalSteps });
        redraw(runs, cfg.patience);
      };
      const order = splits.train.epoch(foldIn(keys.order, epoch), cfg.batchSize);
      for (let i = 0; i < order.batches; i++) {
        if (s.stop || s.gpu !== gpu) break;
        if (firstStep) {
          say('Compiling the GPU kernels for the first step…', { progress: null });
          await new Promise((r) => setTimeout(r, 50)); // let the browser paint it
        }
        const batch = order.batch(i);
        const out = trainStep(state, batch);
        batch.free();
        if (state !== best) state.free();
        state = out.state;
        pending.push(out.metrics);
        done++;
        if (firstStep || performance.now() - lastRead > READ_EVERY_MS) {
          firstStep = false;
          await flush();
        }
        await yieldToBrowser();
      }
      order.free();
      if (s.lost || s.gpu !== gpu) return; // nothing on a lost device can be read; the resume point stays
      await flush();
      if (s.stop && rec.losses.length < epoch * stepsPerEpoch) break; // keep a partial epoch's curve, skip its evaluation
      rec.msPerEpoch.push(performance.now() - epochStart);
      say(`${activation}: evaluating epoch ${epoch} on the validation set…`);
      rec.valAccuracy.push(await accuracy(state, splits.val));
      const es = earlyStopping(rec.valAccuracy, cfg.patience);
      // The resume point: this epoch's state (and the best epoch's, when that is older).
      const progress: Progress = { app: 'actlab', config: cfg, activation, epochsDone: epoch, record: rec };
      const latest = await saveCheckpoint(state, keys.root, JSON.stringify(progress));
      s.checkpoints.set(activation, { bytes: latest, progress });
      if (es.best === rec.valAccuracy.length - 1) {
        if (best !== state) best.free();
        best = state;
        bestBytes = latest;
      }
      await runStore?.saveResume(run.id, { latest, best: best === state ? null : bestBytes });
      await persist(run);
      redraw(runs, cfg.patience);
      if (es.stop) {
        rec.stoppedEarly = true;
        break;
      }
    }
    if (rec.valAccuracy.length === 0) {
      // Stopped before the first epoch ended: the current params are all there is.
      if (best !== state) best.free();
      best = state;
    } else if (state !== best) {
      state.free();
    }
    if (rec.losses.length > 0) {
      say(`${activation}: evaluating the best epoch on the test set…`);
      rec.testAccuracy = await accuracy(best, splits.test);
      s.models.get(activation)?.free();
      s.models.set(activation, best);
      if (![...sampleSelect.options].some((o) => o.value === activation)) sampleSelect.append(new Option(activation, activation));
      sampleSelect.disabled = false;
      if (s.models.size === 1) await showSamples(s.models, gpu, data);
      if (!s.stop) await persist(run);
    } else {
      best.free();
    }
    redraw(runs, cfg.patience);
    if (s.stop) break;
  }
  run.finished = !s.stop;
  await persist(run);
  const secs = (performance.now() - t0) / 1000;
  say(`${s.stop ? 'Stopped' : 'Done'} after ${formatDuration(secs)}: ${done} steps.`, { progress: s.stop ? undefined : 1 });
}

// ---- runs that survive ----------------------------------------------------------------------

const runStore = idbRuns();

async function persist(run: SavedRun): Promise<void> {
  try {
    await runStore?.save(structuredClone(run));
  } catch (e) {
    console.warn(`actlab: could not store the run in IndexedDB: ${errorText(e)}`);
  }
}

/** Continues `run` from its resume point on `s.gpu` (after a reload or a lost device). */
async function resumeRun(s: Session, run: SavedRun): Promise<void> {
  const point = await runStore?.resumePoint(run.id);
  const latest = point && restoreCheckpoint(s.gpu, point.latest);
  const progress = latest && parseProgress(latest.meta);
  if (!point || !latest || !progress || run.runs.some((r) => r.activation === progress.activation && r.testAccuracy !== null)) {
    // No epoch of an unfinished activation was completed (the last resume point belongs to a
    // finished one): start the remaining activations afresh.
    latest?.state.free();
    await train(run.config, s, { run });
    return;
  }
  const best = point.best ? restoreCheckpoint(s.gpu, point.best).state : latest.state;
  await train(run.config, s, {
    run,
    continued: {
      activation: progress.activation, state: latest.state, best, record: progress.record, epochsDone: progress.epochsDone, bestBytes: point.best,
    },
  });
}

/** Continues a checkpoint file saved by this page: its activation, to the form's epoch count. */
async function continueCheckpoint(s: Session, bytes: Uint8Array, epochs: number): Promise<void> {
  const restored = restoreCheckpoint(s.gpu, bytes);
  let progress: Progress;
  try {
    progress = parseProgress(restored.meta);
  } catch (e) {
    restored.state.free();
    throw e;
  }
  const cfg: RunConfig = { ...progress.config, activations: [progress.activation], epochs: Math.max(epochs, progress.epochsDone) };
  const run: SavedRun = { id: `${Date.now()}`, startedAt: Date.now(), config: cfg, runs: [], finished: false };
  await train(cfg, s, {
    run,
    continued: {
      activation: progress.activation, state: restored.state, best: restored.state, record: progress.record, epochsDone: progress.epochsDone, bestBytes: null,
    },
  });
}

function download(content: Uint8Array | string | Blob, name: string, type: string): void {
  const part = content instanceof Uint8Array ? new Uint8Array(content) : content;
  const a = Object.assign(document.createElement('a'), { href: URL.createObjectURL(new Blob([part], { type })), download: name });
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

async function showSavedRuns(select: HTMLSelectElement): Promise<SavedRun[]> {
  const saved = (await runStore?.list().catch(() => [])) ?? [];
  select.replaceChildren(...saved.map((r) => new Option(
    `${new Date(r.startedAt).toLocaleString()} · seed ${r.config.seed} · ${r.runs.map((x) => x.activation).join(', ') || 'no results'}${r.finished ? '' : ' (unfinished)'}`, r.id)));
  select.disabled = saved.length === 0;
  return saved;
}

// ---- analyses -------------------------------------------------------------------------------

async function analyse(s: Session, cfg: RunConfig): Promise<void> {
  await yieldToBrowser();
  const { splits } = onGpu(s, cfg.limit);
  const batch = splits.train.range(0, Math.min(256, splits.train.len));
  try {
    inspect.analyses = await runAnalyses({
      gpu: s.gpu, activations: cfg.activations, configOf: (a) => trainConfigOf(cfg, a), initKey: runKeys(cfg.seed).init,
      batch, train: splits.train, trained: s.models, onProgress: (m) => say(m, { progress: null }),
    }, $('analyses'), $<HTMLTableElement>('dead'));
  } finally {
    batch.free();
  }
  say(`Analyses done (${inspect.analyses.trainedModels ? 'trained models' : 'freshly initialised models: train first to compare'}).`, { progress: 1 });
}

// ---- start-up -------------------------------------------------------------------------------

function describeProgress(p: LoadProgress): [string, number | null] {
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

/** Shows `message` with one action button in the notice area (resume offers). */
function offer(message: string, action: string, run: () => void): void {
  const box = $('resume');
  const text = document.createElement('p');
  text.textContent = message;
  const button = Object.assign(document.createElement('button'), { type: 'button', textContent: action });
  const dismiss = Object.assign(document.createElement('button'), { type: 'button', textContent: 'Dismiss' });
  button.addEventListener('click', () => { box.hidden = true; run(); });
  dismiss.addEventListener('click', () => { box.hidden = true; });
  const buttons = document.createElement('div');
  buttons.className = 'buttons';
  buttons.append(button, dismiss);
  box.replaceChildren(text, buttons);
  box.hidden = false;
}

async function main(): Promise<void> {
  buildForm();
  const url = dataUrl();
  $('data-url').textContent = url;
  if (!hasWebGpu()) {
    const notice = $('notice');
    notice.hidden = false;
    notice.innerHTML = '<strong>This browser does not offer WebGPU</strong>, which ActLab needs to train on your GPU. '
      + 'Use a current Chrome or Edge (version 113 or later) on Windows, macOS or ChromeOS, Chrome on Android 12+, '
      + 'or Safari 26+. On Linux, enable <code>chrome://flags/#enable-unsafe-webgpu</code>; in Firefox, WebGPU ships in '
      + 'version 141+ on Windows and behind <code>dom.webgpu.enabled</code> elsewhere. There is no CPU fallback in the browser: '
      + 'the same crate trains on the CPU natively (see the README).';
    say('WebGPU is not available in this browser.', { error: true, progress: 0 });
    return;
  }
  say('Loading the WebAssembly module…', { progress: null });
  await load();
  say('Starting WebGPU…');
  const gpu = await Gpu.create();
  const data = await loadFashionMnist(url, {
    cache: idbCache(url),
    onProgress: (p) => {
      const [msg, frac] = describeProgress(p);
      say(msg, { progress: frac });
    },
  });
  say(`Ready: ${data.len('train')} training, ${data.len('val')} validation and ${data.len('test')} test images. Press Train.`, { progress: 0 });

  const s: Session = { gpu, data, models: new Map(), checkpoints: new Map(), stop: false };
  const actionButtons = [trainBtn, analyseBtn, loadCkptInput];
  const setIdle = (idle: boolean) => {
    for (const b of actionButtons) b.disabled = !idle;
    stopBtn.disabled = idle;
    downloadBtn.disabled = !idle || inspect.runs.length === 0;
    pngBtn.disabled = !idle || inspect.runs.length === 0 && !inspect.analyses;
    saveCkptBtn.disabled = !idle || !s.checkpoints.has(sampleSelect.value);
    flaxBtn.disabled = !idle || !s.models.has(sampleSelect.value);
  };
  /** Runs one long task (train, resume, analyse) with the buttons and state to match. */
  const busy = (task: () => Promise<void>, what: string) => {
    s.stop = false;
    setIdle(false);
    inspect.state = 'training';
    task()
      .then(() => { inspect.state = 'ready'; })
      .catch((err: unknown) => {
        if (s.lost) return; // the loss notice says what happened
        say(`Error while ${what}: ${errorText(err)}`, { error: true });
      })
      .finally(() => {
        setIdle(true);
        void showSavedRuns(savedSelect);
      });
  };

  // A lost device: say so, and offer to go on from the last completed epoch on a new one.
  const watch = (g: Gpu) => {
    inspect.loseDevice = () => g.destroy();
    void deviceLost(g).then((info) => {
      if (s.gpu !== g) return;
      s.lost = info;
      inspect.lost = info;
      s.stop = true;
      const where = s.run && !s.run.finished ? ' Training stopped; its last completed epoch is saved.' : '';
      say(`The GPU device was lost (${info.reason ?? 'unknown reason'}${info.message ? `: ${info.message}` : ''}).${where}`, { error: true });
      offer(`The GPU device was lost.${where}`, where ? 'Resume from the last completed epoch' : 'Start a new GPU device', () => {
        busy(async () => {
          say('Starting a new GPU device…', { progress: null });
          s.gpu = await s.gpu.recreate();
          // Everything on the old device is gone with it: drop (do not free) its objects.
          s.onGpu = undefined;
          s.models.clear();
          s.lost = undefined;
          inspect.lost = null;
          inspect.state = 'training';
          watch(s.gpu);
          if (s.run && !s.run.finished) await resumeRun(s, s.run);
          else say('A new GPU device is ready.', { progress: 0 });
        }, 'resuming');
      });
    });
  };
  watch(gpu);

  // Earlier runs from IndexedDB: show the newest; offer to resume it if it was interrupted.
  const saved = await showSavedRuns(savedSelect);
  const shown = (run: SavedRun) => {
    s.run = run;
    inspect.runs = run.runs;
    inspect.config = run.config;
    redraw(run.runs, run.config.patience);
    setIdle(true);
  };
  if (saved[0]) {
    const last = saved[0];
    shown(last);
    if (!last.finished) {
      offer(`An unfinished run from ${new Date(last.startedAt).toLocaleString()} was saved `
        + `(${last.runs.filter((r) => r.testAccuracy !== null).length} of ${last.config.activations.length} activations finished).`,
      'Resume it', () => busy(() => resumeRun(s, last), 'resuming'));
    }
  }
  setIdle(true);
  // Ready only once the saved runs are shown, so a reload's results are there when it says so.
  inspect.state = 'ready';

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const cfg = readForm();
    if (!cfg) return;
    $('resume').hidden = true;
    busy(() => train(cfg, s), 'training');
  });
  stopBtn.addEventListener('click', () => {
    s.stop = true;
    say('Stopping after this step…');
  });
  $('preset-tutorial').addEventListener('click', () => {
    fillForm(formValuesOf(tutorialPreset(readForm() ?? DEFAULT_RUN)));
    say('Tutorial protocol set: all six activations, up to 50 epochs, patience 7, all images. Press Train.');
  });
  analyseBtn.addEventListener('click', () => {
    const cfg = readForm();
    if (cfg) busy(() => analyse(s, cfg), 'analysing');
  });
  sampleSelect.addEventListener('change', () => {
    setIdle(stopBtn.disabled); // the save/export buttons follow the selected model
    showSamples(s.models, s.gpu, data).catch((err: unknown) => say(`Error: ${errorText(err)}`, { error: true }));
  });
  savedSelect.addEventListener('change', () => {
    void runStore?.list().then((runs) => {
      const run = runs.find((r) => r.id === savedSelect.value);
      if (run) shown(run);
    });
  });
  forgetBtn.addEventListener('click', () => {
    void runStore?.clear().then(() => showSavedRuns(savedSelect));
  });
  downloadBtn.addEventListener('click', () => {
    const published = { jax: PUBLISHED_JAX, pytorch: PUBLISHED_PYTORCH };
    download(JSON.stringify({ config: inspect.config, runs: inspect.runs, published }, null, 2), `actlab-seed${inspect.config?.seed}.json`, 'application/json');
  });
  pngBtn.addEventListener('click', () => {
    chartsPng(document.querySelector('main')!)
      .then((png) => download(png, `actlab-charts-seed${inspect.config?.seed}.png`, 'image/png'))
      .catch((err: unknown) => say(`Error: ${errorText(err)}`, { error: true }));
  });
  saveCkptBtn.addEventListener('click', () => {
    const saved = s.checkpoints.get(sampleSelect.value);
    if (!saved) return;
    const p = saved.progress;
    download(saved.bytes, `actlab-${p.activation}-seed${p.config.seed}-epoch${p.epochsDone}.actlab`, 'application/octet-stream');
  });
  flaxBtn.addEventListener('click', () => {
    const model = s.models.get(sampleSelect.value);
    if (!model) return;
    exportFlax(model)
      .then((bytes) => download(bytes, `actlab-${sampleSelect.value}-params.msgpack`, 'application/octet-stream'))
      .catch((err: unknown) => say(`Error: ${errorText(err)}`, { error: true }));
  });
  loadCkptInput.addEventListener('change', () => {
    const file = loadCkptInput.files?.[0];
    loadCkptInput.value = '';
    if (!file) return;
    const epochs = Number((form.elements.namedItem('epochs') as HTMLInputElement).value) || 1;
    $('resume').hidden = true;
    busy(async () => continueCheckpoint(s, new Uint8Array(await file.arrayBuffer()), epochs), `continuing from ${file.name}`);
  });
}

main().catch((err: unknown) => say(`Error: ${errorText(err)}`, { error: true, progress: 0 }));
