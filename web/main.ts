// The page: load FashionMNIST, train the tutorial MLP once per selected activation on WebGPU,
// report loss and accuracy. All numerics live in the wasm crate; this file is UI glue.
import initWasm, { Gpu, FashionData, init, trainStep, evalStep, key, split, foldIn, type TrainState } from '../pkg/actlab.js';

const ACTIVATIONS = ['sigmoid', 'tanh', 'relu', 'leaky_relu', 'elu', 'swish'] as const;
const FILES = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'];
const BATCH = 256;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $('status');
const say = (msg: string, error = false) => { status.textContent = msg; status.classList.toggle('error', error); };
const nextFrame = () => new Promise<void>((r) => setTimeout(r, 0));

function dataUrl(): string {
  const q = new URLSearchParams(location.search).get('data');
  const base = q ?? import.meta.env.VITE_DATA_URL ?? '/data/fashion-mnist/';
  return base.endsWith('/') ? base : base + '/';
}

async function fetchAll(base: string): Promise<Uint8Array[]> {
  const loaded = new Array<number>(FILES.length).fill(0);
  return Promise.all(FILES.map(async (f, i) => {
    const res = await fetch(base + f);
    if (!res.ok || !res.body) throw new Error(`cannot fetch ${base + f}: HTTP ${res.status}`);
    const chunks: Uint8Array[] = [];
    for (const reader = res.body.getReader(); ;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      loaded[i] = (loaded[i] ?? 0) + value.length;
      say(`Downloading FashionMNIST from ${base}: ${(loaded.reduce((a, b) => a + b, 0) / 1e6).toFixed(1)} MB`);
    }
    const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) { out.set(c, at); at += c.length; }
    return out;
  }));
}

let stopRequested = false;

async function accuracyOn(state: TrainState, gpu: Gpu, data: FashionData, part: 'val' | 'test'): Promise<number> {
  const n = data.len(part);
  let correct = 0;
  for (let s = 0; s < n; s += 1000) {
    const idx = Uint32Array.from({ length: Math.min(1000, n - s) }, (_, i) => s + i);
    const m = await evalStep(state, data.batch(gpu, part, idx)).read() as { accuracy: number };
    correct += m.accuracy * idx.length;
  }
  return correct / n;
}

async function run(gpu: Gpu, all: FashionData): Promise<void> {
  const seed = Number($<HTMLInputElement>('seed').value);
  const epochs = Number($<HTMLInputElement>('epochs').value);
  const limit = Number($<HTMLInputElement>('limit').value);
  const chosen = ACTIVATIONS.filter((a) => $<HTMLInputElement>(`act-${a}`).checked);
  const data = limit < all.len('train') ? all.truncate(limit) : all;
  const tbody = $('results').querySelector('tbody')!;
  tbody.replaceChildren();
  // One root key: the same initial params and batch order for every activation.
  const keys = split(key(seed), 2);
  const [initKey, orderKey] = [keys.slice(0, 2), keys.slice(2, 4)];
  for (const activation of chosen) {
    let state = init(gpu, initKey, { activation });
    for (let epoch = 1; epoch <= epochs && !stopRequested; epoch++) {
      const order = data.epochOrder(foldIn(orderKey, epoch), BATCH);
      const steps = order.length / BATCH;
      let loss = NaN;
      const t0 = performance.now();
      for (let s = 0; s < steps && !stopRequested; s++) {
        const out = trainStep(state, data.batch(gpu, 'train', order.subarray(s * BATCH, (s + 1) * BATCH)));
        state = out.state;
        const metrics = out.metrics;
        if (s % 20 === 0 || s === steps - 1) {
          loss = ((await metrics.read()) as { loss: number }).loss;
          const rate = (s + 1) / ((performance.now() - t0) / 1000);
          say(`${activation}: epoch ${epoch}/${epochs}, step ${s + 1}/${steps}, loss ${loss.toFixed(4)}, ${rate.toFixed(1)} steps/s`);
        }
        await nextFrame();
      }
      const val = await accuracyOn(state, gpu, data, 'val');
      const test = epoch === epochs ? await accuracyOn(state, gpu, data, 'test') : NaN;
      const row = tbody.insertRow();
      for (const v of [activation, String(epoch), loss.toFixed(4), (100 * val).toFixed(2) + '%', Number.isNaN(test) ? '' : (100 * test).toFixed(2) + '%']) {
        row.insertCell().textContent = v;
      }
    }
  }
  say(stopRequested ? 'Stopped.' : 'Done.');
}

async function main(): Promise<void> {
  const box = $('activations');
  for (const a of ACTIVATIONS) {
    const label = document.createElement('label');
    label.innerHTML = `<input type="checkbox" id="act-${a}" ${a === 'relu' ? 'checked' : ''}> ${a}`;
    box.append(label);
  }
  if (!('gpu' in navigator)) {
    say('This browser has no WebGPU. Use a current Chrome or Edge (113+), or Firefox/Safari with WebGPU enabled; on Linux Chrome may need chrome://flags/#enable-unsafe-webgpu.', true);
    return;
  }
  say('Loading the WebAssembly module…');
  await initWasm();
  const gpu = await Gpu.create();
  const bytes = await fetchAll(dataUrl());
  say('Parsing FashionMNIST…');
  await nextFrame();
  const [a, b, c, d] = bytes as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  const data = FashionData.parse(a, b, c, d, key(0));
  say(`Ready: ${data.len('train')} train, ${data.len('val')} validation, ${data.len('test')} test images.`);
  const trainBtn = $<HTMLButtonElement>('train');
  const stopBtn = $<HTMLButtonElement>('stop');
  trainBtn.disabled = false;
  $('controls').addEventListener('submit', (e) => {
    e.preventDefault();
    stopRequested = false;
    trainBtn.disabled = true;
    stopBtn.disabled = false;
    run(gpu, data)
      .catch((err: unknown) => say(`Error: ${err instanceof Error ? err.message : String(err)}`, true))
      .finally(() => { trainBtn.disabled = false; stopBtn.disabled = true; });
  });
  stopBtn.addEventListener('click', () => { stopRequested = true; });
}

main().catch((err: unknown) => say(`Error: ${err instanceof Error ? err.message : String(err)}`, true));
