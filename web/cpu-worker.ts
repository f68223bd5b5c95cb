// A worker of the CPU pool (app/pool.ts): its own CPU module instance on its own core, training
// the share of a run's models it is given. Requests are handled one at a time, in order.
import { idbCache } from './app/cache.js';
import { openModels, type ModelSplits } from './app/models.js';
import type { PoolReply, PoolRequest } from './app/pool.js';
import type { Engine } from './app/trainer.js';
import { loadCpu, type Api, type CpuBuild, type Device, type DeviceData } from './sdk/index.js';

const scope = self as unknown as {
  postMessage(message: PoolReply): void;
  onmessage: ((e: MessageEvent<PoolRequest & { id: number }>) => void) | null;
};

let cpu: { api: Api; device: Device } | undefined;
/** The data (from the page's cache), and the splits of the run's size on this worker's CPU. */
let loaded: { url: string; all: DeviceData } | undefined;
let sized: { limit: number; part: DeviceData; splits: ModelSplits } | undefined;
let engine: Engine | undefined;

const need = <T>(x: T | undefined): T => {
  if (x === undefined) throw new Error('this CPU worker has no models open');
  return x;
};

const dropSized = () => {
  if (!sized) return;
  Object.values(sized.splits).forEach((s) => s.free());
  if (sized.part !== loaded?.all) sized.part.free();
  sized = undefined;
};

async function splitsFor(url: string, limit: number, simd: CpuBuild): Promise<ModelSplits> {
  if (!cpu) {
    const api = await loadCpu({ simd }).catch((e: unknown) => {
      throw Object.assign(new Error(`its CPU module did not load: ${e instanceof Error ? e.message : String(e)}`), { unstarted: true });
    });
    cpu = { api, device: await api.createDevice() };
  }
  const { api, device } = cpu;
  if (loaded?.url !== url) {
    dropSized();
    loaded?.all.free();
    loaded = { url, all: await api.loadFashionMnist(url, { cache: idbCache(url) }) };
  }
  if (sized?.limit !== limit) {
    dropSized();
    const { all } = loaded;
    const part = limit < all.len('train') ? all.truncate(limit) : all;
    sized = { limit, part, splits: { train: part.upload(device, 'train'), val: part.upload(device, 'val'), test: part.upload(device, 'test') } };
  }
  return sized.splits;
}

async function handle(req: PoolRequest): Promise<unknown> {
  switch (req.op) {
    case 'open': {
      engine?.free();
      engine = undefined;
      const splits = await splitsFor(req.dataUrl, req.cfg.limit, req.simd);
      engine = openModels(cpu!.api, cpu!.device, splits, req.cfg, req.activations, req.files);
      return engine.stepsPerEpoch;
    }
    case 'train':
      return need(engine).train(req.epoch, req.from, req.n);
    case 'evaluate':
      return need(engine).evaluate();
    case 'checkpoint':
      return need(engine).checkpoint(req.k, req.meta);
    case 'free':
      engine?.free();
      engine = undefined;
      return null;
  }
}

let queue: Promise<unknown> = Promise.resolve();
scope.onmessage = (e) => {
  const { id, ...req } = e.data;
  queue = queue.then(() => handle(req as PoolRequest)).then(
    (value) => scope.postMessage({ id, value }),
    (err: unknown) => scope.postMessage({ id, error: err instanceof Error ? err.message : String(err), unstarted: (err as { unstarted?: boolean }).unstarted === true }),
  );
};
