// The page: boot and wiring. The trainer (app/host.ts, app/trainer.ts) runs in a Web Worker and
// talks in messages (app/protocol.ts); web/view/* draws. This file sends the form's commands,
// applies the trainer's events to its copy of the run, and keeps the buttons in step.
import { DEFAULT_RUN, formValuesOf, queryOf, type RunConfig } from './app/config.js';
import { idbRuns, type RunRecord, type SavedRun } from './app/runs.js';
import type { CpuBuild } from './sdk/simd.js';
import { GPU_START_FAILED, LONG_COMMANDS, NO_WEBGPU_HERE, applyEvent, type AnalysisData, type Command, type DeviceKind, type TrainerEvent } from './app/protocol.js';
import { localTransport, openTransport, type Transport } from './app/transport.js';
import { PUBLISHED_JAX, PUBLISHED_PYTORCH, deepPreset, sameModels, tutorialPreset } from './app/published.js';
import { chartsPng } from './view/charts.js';
import { buildForm, fillForm, formEpochs, formNames, putCustom, readForm } from './view/form.js';
import { Editor } from './view/editor.js';
import { Results } from './view/results.js';
import { renderSamples } from './view/samples.js';
import { drawAnalyses, type AnalysisResult } from './view/analyses.js';
import { download, gpuFailedNotice, hideOffer, noWebGpuNotice, offer, say, softwareGpuNotice, warn } from './view/status.js';

/** Read by the end-to-end tests and handy in the console: the runs and what the charts hold. */
interface Inspect {
  config: RunConfig | null;
  runs: RunRecord[];
  /** The shown run's id (a new one for each Train). */
  runId: string | null;
  chartPoints: () => { loss: Record<string, number>; accuracy: Record<string, number> };
  state: 'loading' | 'ready' | 'training' | 'error';
  analyses: AnalysisResult | null;
  /** Set if the GPU device was lost. */
  lost: { reason: string; message: string } | null;
  /** Where the trainer runs, on which device, and on the CPU how many workers train. */
  thread: 'worker' | 'page' | null;
  device: DeviceKind | null;
  workers: number;
  /** On the CPU: which build of its module runs (`relaxed` SIMD or `plain`). */
  cpuBuild: CpuBuild | null;
  /** For tests: destroys the GPU device, as a driver reset would lose it. */
  loseDevice: () => void;
}
declare global {
  interface Window { actlab: Inspect }
}

// The imports ran: from here on errors are reported by the page itself (see index.html).
(window as unknown as { actlabBooted: boolean }).actlabBooted = true;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const buttons = {
  train: $<HTMLButtonElement>('train'), stop: $<HTMLButtonElement>('stop'), analyse: $<HTMLButtonElement>('analyse'),
  download: $<HTMLButtonElement>('download'), png: $<HTMLButtonElement>('download-png'), load: $<HTMLInputElement>('load-checkpoint'),
  checkpoint: $<HTMLButtonElement>('save-checkpoint'), flax: $<HTMLButtonElement>('export-flax'), jax: $<HTMLButtonElement>('export-jax'),
};
const savedSelect = $<HTMLSelectElement>('saved-runs');
const sampleSelect = $<HTMLSelectElement>('sample-model');
const results = new Results();
let editor: Editor | undefined;
const store = idbRuns();
const query = new URLSearchParams(location.search);
/** Charts redraw at most this often while training (each is a task on this thread). */
const REDRAW_MS = 200;

let transport: Transport | undefined;
let run: SavedRun | null = null;
let busy = false;
/** Whether the trainer's last start succeeded (a device and the data are there). */
let started = false;
/** Activations with a trained model (samples, checkpoint, Flax export). */
const models = new Set<string>();
let redrawTimer: ReturnType<typeof setTimeout> | undefined;
/** The last analyses as computed (in the JSON export). */
let analysesData: AnalysisData | null = null;

const inspect: Inspect = {
  config: null,
  runs: [],
  runId: null,
  chartPoints: () => results.counts(),
  state: 'loading',
  analyses: null,
  lost: null,
  thread: null,
  device: null,
  workers: 1,
  cpuBuild: null,
  loseDevice: () => send({ type: 'loseDevice' }),
};
window.actlab = inspect;

function send(cmd: Command): void {
  if (!transport) throw new Error('the trainer is not started');
  if (cmd.type !== 'start' && LONG_COMMANDS.has(cmd.type)) {
    busy = true;
    inspect.state = 'training';
    hideOffer();
    setButtons();
  }
  transport.send(cmd);
}

function setButtons(): void {
  const ready = inspect.state !== 'loading' && transport !== undefined && started && !busy;
  for (const b of [buttons.train, buttons.analyse, buttons.load]) b.disabled = !ready;
  buttons.stop.disabled = !busy;
  buttons.download.disabled = !ready || inspect.runs.length === 0;
  buttons.png.disabled = !ready || (inspect.runs.length === 0 && !inspect.analyses);
  buttons.checkpoint.disabled = !ready || !models.has(sampleSelect.value);
  buttons.flax.disabled = !ready || !models.has(sampleSelect.value);
  buttons.jax.disabled = !ready || !models.has(sampleSelect.value);
}

function redraw(): void {
  clearTimeout(redrawTimer);
  redrawTimer = undefined;
  inspect.runs = run?.runs ?? [];
  inspect.runId = run?.id ?? null;
  inspect.config = run?.config ?? null;
  results.draw(inspect.runs, run?.config ?? DEFAULT_RUN);
}

function show(saved: SavedRun): void {
  run = structuredClone(saved);
  redraw();
  setButtons();
}

async function showSavedRuns(): Promise<SavedRun[]> {
  const saved = (await store?.list().catch(() => [])) ?? [];
  savedSelect.replaceChildren(...saved.map((r) => new Option(
    `${new Date(r.startedAt).toLocaleString()} · seed ${r.config.seed} · ${r.runs.map((x) => x.activation).join(', ') || 'no results'}${r.finished ? '' : ' (unfinished)'}`, r.id)));
  savedSelect.disabled = saved.length === 0;
  return saved;
}

/** After start-up: the newest saved run, and an offer to resume it if it was interrupted. */
async function ready(): Promise<void> {
  const saved = await showSavedRuns();
  const last = saved[0];
  if (last) {
    show(last);
    if (!last.finished) {
      const epochs = Math.max(0, ...last.runs.map((r) => r.valAccuracy.length));
      const finished = last.runs.filter((r) => r.testAccuracy !== null).length;
      offer(`An unfinished run from ${new Date(last.startedAt).toLocaleString()} was saved (epoch ${epochs} of ${last.config.epochs} done; `
        + `${finished} of ${last.config.activations.length} activations finished).`, 'Resume it', () => send({ type: 'resume', run: last }));
    }
  }
  // Ready only once the saved runs are shown, so a reload's results are there when it says so.
  inspect.state = 'ready';
  setButtons();
}

async function done(e: Extract<TrainerEvent, { type: 'done' }>): Promise<void> {
  if (e.command === 'start' && e.error === NO_WEBGPU_HERE) {
    // This browser's workers have no WebGPU: the trainer runs on this thread instead.
    transport?.close();
    transport = await localTransport(onEvent);
    inspect.thread = 'page';
    transport.send({ type: 'start', dataUrl: dataUrl(), device: 'gpu' });
    return;
  }
  busy = false;
  if (e.error && e.command === 'start' && e.error.startsWith(GPU_START_FAILED)) {
    // WebGPU is there but gave no working device (no adapter, a refused device, a blocklisted
    // driver): say so, with the error, and offer the CPU as where there is no WebGPU at all.
    gpuFailedNotice(e.error.slice(GPU_START_FAILED.length), () => start('cpu', true));
    inspect.state = 'error';
    setButtons();
    return;
  }
  if (e.error) {
    const what = { start: 'starting', train: 'training', resume: 'resuming', continue: 'continuing from the checkpoint', analyse: 'analysing', recover: 'starting a new GPU device' }[e.command as string] ?? e.command;
    say(`Error while ${what}: ${e.error}`, { error: true, progress: e.command === 'start' ? 0 : undefined });
    inspect.state = 'error';
    setButtons();
    return;
  }
  if (e.command === 'start') {
    started = true;
    editor?.refresh();
    return ready();
  }
  redraw();
  if (inspect.lost) {
    setButtons(); // the loss notice offers the way on
    return;
  }
  inspect.state = 'ready';
  setButtons();
  if (['train', 'resume', 'continue'].includes(e.command)) await showSavedRuns();
}

function onEvent(e: TrainerEvent): void {
  switch (e.type) {
    case 'status':
      say(e.message, { progress: e.progress, error: e.error });
      if (e.error) inspect.state = 'error';
      break;
    case 'warning':
      warn(e.message);
      break;
    case 'ready':
      inspect.device = e.device;
      inspect.workers = e.workers;
      inspect.cpuBuild = e.cpuBuild;
      if (e.software) softwareGpuNotice(() => start('cpu', true));
      break;
    case 'run':
      if (run?.id !== e.run.id) {
        models.clear();
        sampleSelect.replaceChildren();
        sampleSelect.disabled = true;
      }
      run = applyEvent(run, e);
      redraw();
      break;
    case 'losses':
    case 'epoch':
      run = applyEvent(run, e);
      redrawTimer ??= setTimeout(redraw, REDRAW_MS);
      break;
    case 'model':
      models.add(e.activation);
      if (![...sampleSelect.options].some((o) => o.value === e.activation)) sampleSelect.append(new Option(e.activation, e.activation));
      sampleSelect.disabled = false;
      break;
    case 'samples':
      if (e.activation === sampleSelect.value) renderSamples($('samples'), e.pixels, e.labels, e.predicted, e.predictedInit);
      break;
    case 'analyses':
      analysesData = e.data;
      inspect.analyses = drawAnalyses(e.data, $('analyses'), $<HTMLTableElement>('dead'));
      setButtons();
      break;
    case 'preview':
      editor?.shown(e.id, e.check, e.xs, e.f, e.df);
      break;
    case 'file':
      download(e.bytes, e.name, e.mime);
      break;
    case 'lost': {
      inspect.lost = { reason: e.reason, message: e.message };
      const where = e.resumable ? ' Training stopped; its last completed epoch is saved.' : '';
      say(`The GPU device was lost (${e.reason}${e.message ? `: ${e.message}` : ''}).${where}`, { error: true });
      inspect.state = 'error';
      offer(`The GPU device was lost.${where}`, e.resumable ? 'Resume from the last completed epoch' : 'Start a new GPU device', () => {
        inspect.lost = null;
        send({ type: 'recover' });
      });
      break;
    }
    case 'done':
      void done(e);
      break;
  }
}

function dataUrl(): string {
  const url = query.get('data') ?? import.meta.env.VITE_DATA_URL ?? __ACTLAB_DATA__;
  return new URL(url, location.href).href; // the worker resolves relative URLs against its own
}

function wire(): void {
  const form = $<HTMLFormElement>('controls');
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const cfg = readForm();
    if (!cfg) return;
    // The URL now shares this run: its settings and its own formulas.
    history.replaceState(null, '', `${location.pathname}?${queryOf(cfg, query)}`);
    send({ type: 'train', config: cfg });
  });
  buttons.stop.addEventListener('click', () => transport?.send({ type: 'stop' }));
  $('preset-tutorial').addEventListener('click', () => {
    fillForm(formValuesOf(tutorialPreset(readForm() ?? DEFAULT_RUN)));
    say('Tutorial protocol set: all six activations, up to 50 epochs, patience 7, all images. Press Train.');
  });
  buttons.analyse.addEventListener('click', () => {
    const cfg = readForm();
    if (!cfg) return;
    // The shown run's own models where the form still describes them; else the form's network
    // at initialisation.
    const shown = run && sameModels(run.config, cfg) ? run : null;
    send({ type: 'analyse', config: shown?.config ?? cfg, runId: shown?.id });
  });
  sampleSelect.addEventListener('change', () => {
    setButtons(); // the save/export buttons follow the selected model
    if (models.has(sampleSelect.value)) transport?.send({ type: 'samples', activation: sampleSelect.value as RunRecord['activation'] });
  });
  savedSelect.addEventListener('change', () => {
    void store?.list().then((runs) => {
      const saved = runs.find((r) => r.id === savedSelect.value);
      if (saved) show(saved);
    });
  });
  $('forget-runs').addEventListener('click', () => {
    void store?.clear().then(showSavedRuns);
  });
  buttons.download.addEventListener('click', () => {
    const published = { jax: PUBLISHED_JAX, pytorch: PUBLISHED_PYTORCH };
    download(JSON.stringify({ config: inspect.config, runs: inspect.runs, published, analyses: analysesData }, null, 2), `actlab-seed${inspect.config?.seed}.json`, 'application/json');
  });
  buttons.png.addEventListener('click', () => {
    chartsPng(document.querySelector('main')!)
      .then((png) => download(png, `actlab-charts-seed${inspect.config?.seed}.png`, 'image/png'))
      .catch((err: unknown) => say(`Error: ${err instanceof Error ? err.message : String(err)}`, { error: true }));
  });
  buttons.checkpoint.addEventListener('click', () => transport?.send({ type: 'checkpoint', activation: sampleSelect.value as RunRecord['activation'] }));
  buttons.flax.addEventListener('click', () => transport?.send({ type: 'exportFlax', activation: sampleSelect.value as RunRecord['activation'] }));
  buttons.jax.addEventListener('click', () => transport?.send({ type: 'exportJax', activation: sampleSelect.value as RunRecord['activation'] }));
  $('preset-deep').addEventListener('click', () => {
    fillForm(formValuesOf(deepPreset(readForm() ?? DEFAULT_RUN)));
    say('Deep ReLU network set: hidden 256 ×5 then 128 ×5, the notebook\'s init and PRNG, seed 42. Press Analyse for its dead neurons at initialisation.');
  });
  buttons.load.addEventListener('change', () => {
    const file = buttons.load.files?.[0];
    buttons.load.value = '';
    if (!file) return;
    void file.arrayBuffer().then((b) => send({ type: 'continue', bytes: new Uint8Array(b), epochs: formEpochs() }));
  });
}

function main(): void {
  buildForm(query, (name, def) => editor?.load(name, def));
  editor = new Editor({
    preview: (activation, id) => transport?.send({ type: 'preview', id, activation }),
    add: putCustom,
    names: formNames,
  });
  wire();
  $('data-url').textContent = dataUrl();
  // ?device=cpu trains on the CPU module; without WebGPU the page offers it.
  const device = query.get('device') === 'cpu' ? 'cpu' : 'gpu';
  if (device === 'gpu' && !('gpu' in navigator)) {
    // Taken once, the CPU is this browser's device from then on: there is nothing else to pick.
    if (rememberedCpu()) {
      warn('This browser does not offer WebGPU: ActLab trains on the CPU here, as you chose before.');
      start('cpu');
    } else noWebGpuNotice(() => start('cpu', true));
    return;
  }
  start(device);
}

const CHOICE = 'actlab.device';
/** Whether the user took the CPU offer here before (storage may be refused: then never). */
function rememberedCpu(): boolean {
  try {
    return localStorage.getItem(CHOICE) === 'cpu';
  } catch {
    return false;
  }
}

/** Starts the trainer on `device` (again: switches to it); `chosen`: the user took an offer,
 * which is remembered where the browser has no WebGPU. */
function start(device: DeviceKind, chosen = false): void {
  if (chosen && device === 'cpu' && !('gpu' in navigator)) {
    try {
      localStorage.setItem(CHOICE, 'cpu');
    } catch { /* storage refused: the offer comes again next time */ }
  }
  // ?simd=plain|relaxed forces a CPU module build (tests, benchmarks); auto-detected otherwise.
  const simd = query.get('simd');
  const cmd: Command = { type: 'start', dataUrl: dataUrl(), device, ...(simd === 'plain' || simd === 'relaxed' ? { simd } : {}) };
  started = false;
  say(device === 'cpu' ? 'Starting the trainer on the CPU…' : 'Starting the trainer…', { progress: null });
  inspect.state = 'loading';
  setButtons();
  if (transport) return transport.send(cmd);
  // ?thread=page runs the trainer on this thread (for comparison; the worker is the default).
  inspect.thread = query.get('thread') === 'page' ? 'page' : 'worker';
  void openTransport(inspect.thread, onEvent).then((t) => {
    transport = t;
    t.send(cmd);
  });
}

main();
