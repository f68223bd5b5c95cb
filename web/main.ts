// The page: UI glue only. Numerics live in the wasm crate (through ./sdk), settings parsing and
// chart shaping in ./app (unit-tested); this file wires them to the DOM and runs the loop.
import {
  ACTIVATIONS, Gpu, evalStep, foldIn, hasWebGpu, init, key, load, loadFashionMnist, predict, range, readMetrics, split,
  trainStep, type Activation, type FashionData, type GpuSplit, type LoadProgress, type PendingMetrics, type TrainState,
} from './sdk/index.js';
import { DEFAULT_RUN, formValuesOf, parseRunConfig, trainConfigOf, type FormValues, type RunConfig } from './app/config.js';
import { COLOURS, LiveChart } from './app/charts.js';
import { earlyStopping, formatDuration, throughput } from './app/series.js';
import { idbCache } from './app/cache.js';
import { renderSamples } from './app/samples.js';

/** What one activation's run produced; also what "Download results" saves. */
interface RunRecord {
  activation: Activation;
  losses: number[];
  valAccuracy: number[];
  testAccuracy: number | null;
  msPerEpoch: number[];
  stoppedEarly: boolean;
}

/** Read by the end-to-end tests and handy in the console: the runs and what the charts hold. */
interface Inspect {
  config: RunConfig | null;
  runs: RunRecord[];
  chartPoints: () => { loss: Record<string, number>; accuracy: Record<string, number> };
  state: 'loading' | 'ready' | 'training' | 'error';
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
      pct(r.valAccuracy[earlyStopping(r.valAccuracy, patience).best]), pct(r.testAccuracy), formatDuration(mean)]) {
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

interface Session { gpu: Gpu; data: FashionData; models: Map<string, TrainState>; stop: boolean; onGpu?: OnGpu }

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

async function train(cfg: RunConfig, s: Session): Promise<void> {
  // Return to the event loop first: the click that started us completes, and the status is
  // painted before the first step compiles its GPU kernels (which holds the main thread).
  await yieldToBrowser();
  // The images are on the GPU; every batch is gathered and normalised there.
  const { data, splits } = onGpu(s, cfg.limit);
  // One root key: every activation starts from the same key-derived params and sees the same
  // batch order, so the curves differ only by the activation.
  const keys = split(key(cfg.seed), 2);
  const [initKey, orderKey] = [keys.slice(0, 2), keys.slice(2, 4)];
  const stepsPerEpoch = Math.floor(data.len('train') / cfg.batchSize);
  const totalSteps = cfg.activations.length * cfg.epochs * stepsPerEpoch;
  const runs: RunRecord[] = [];
  inspect.runs = runs;
  inspect.config = cfg;
  s.models.forEach((m) => m.free());
  s.models.clear();
  sampleSelect.replaceChildren();
  sampleSelect.disabled = true;
  let done = 0;
  const t0 = performance.now();
  let firstStep = true;

  for (const activation of cfg.activations) {
    const rec: RunRecord = { activation, losses: [], valAccuracy: [], testAccuracy: null, msPerEpoch: [], stoppedEarly: false };
    runs.push(rec);
    let state = init(s.gpu, initKey, trainConfigOf(cfg, activation));
    let best = state;
    for (let epoch = 1; epoch <= cfg.epochs && !s.stop; epoch++) {
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
      const order = splits.train.epoch(foldIn(orderKey, epoch), cfg.batchSize);
      for (let i = 0; i < order.batches; i++) {
        if (s.stop) break;
        if (firstStep) {
          say('Compiling the GPU kernels for the first step (this can take minutes on a software GPU)…', { progress: null });
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
      await flush();
      if (s.stop && rec.losses.length < epoch * stepsPerEpoch) break; // keep a partial epoch's curve, skip its evaluation
      rec.msPerEpoch.push(performance.now() - epochStart);
      say(`${activation}: evaluating epoch ${epoch} on the validation set…`);
      rec.valAccuracy.push(await accuracy(state, splits.val));
      const es = earlyStopping(rec.valAccuracy, cfg.patience);
      if (es.best === rec.valAccuracy.length - 1 && best !== state) {
        best.free();
        best = state;
      }
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
      s.models.set(activation, best);
      sampleSelect.append(new Option(activation, activation));
      sampleSelect.disabled = false;
      if (s.models.size === 1) await showSamples(s.models, s.gpu, data);
    } else {
      best.free();
    }
    redraw(runs, cfg.patience);
    if (s.stop) break;
  }
  const secs = (performance.now() - t0) / 1000;
  say(`${s.stop ? 'Stopped' : 'Done'} after ${formatDuration(secs)}: ${done} steps.`, { progress: s.stop ? undefined : 1 });
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
  inspect.state = 'ready';

  const session: Session = { gpu, data, models: new Map(), stop: false };
  trainBtn.disabled = false;
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const cfg = readForm();
    if (!cfg) return;
    session.stop = false;
    trainBtn.disabled = true;
    stopBtn.disabled = false;
    downloadBtn.disabled = true;
    inspect.state = 'training';
    train(cfg, session)
      .then(() => { inspect.state = 'ready'; })
      .catch((err: unknown) => say(`Error while training: ${errorText(err)}`, { error: true }))
      .finally(() => {
        trainBtn.disabled = false;
        stopBtn.disabled = true;
        downloadBtn.disabled = inspect.runs.length === 0;
      });
  });
  stopBtn.addEventListener('click', () => {
    session.stop = true;
    say('Stopping after this step…');
  });
  sampleSelect.addEventListener('change', () => {
    showSamples(session.models, gpu, data).catch((err: unknown) => say(`Error: ${errorText(err)}`, { error: true }));
  });
  downloadBtn.addEventListener('click', () => {
    const blob = new Blob([JSON.stringify({ config: inspect.config, runs: inspect.runs }, null, 2)], { type: 'application/json' });
    const a = Object.assign(document.createElement('a'), { href: URL.createObjectURL(blob), download: `actlab-seed${inspect.config?.seed}.json` });
    a.click();
    URL.revokeObjectURL(a.href);
  });
}

main().catch((err: unknown) => say(`Error: ${errorText(err)}`, { error: true, progress: 0 }));
