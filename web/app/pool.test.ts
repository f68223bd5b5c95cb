import { describe, expect, it } from 'vitest';
import type { ActivationName as Activation } from './config.js';
import { DEFAULT_RUN } from './config.js';
import { CpuPool, WorkerFailure, type PoolReply, type PoolRequest } from './pool.js';

/** A stand-in for web/cpu-worker.ts: its "models" report losses that name them and the step. */
function fakeWorker(log: string[]): Worker {
  let models: Activation[] = [];
  const w = {
    onmessage: null as ((e: MessageEvent<PoolReply>) => void) | null,
    onerror: null,
    postMessage({ id, ...req }: PoolRequest & { id: number }) {
      const reply = (value: unknown) => queueMicrotask(() => w.onmessage?.({ data: { id, value } } as MessageEvent<PoolReply>));
      log.push(`${req.op}${req.op === 'open' ? ` ${req.activations.join(',')}${req.files ? ' from files' : ''}${req.simd === 'plain' ? '' : ` (${req.simd})`}` : ''}`);
      switch (req.op) {
        case 'open':
          models = req.activations;
          return reply(10);
        case 'train':
        {
          const rows = Array.from({ length: req.n }, (_, i) => models.map((a) => `${a}@${req.epoch}.${req.from + i}`));
          return reply({ losses: rows, accuracies: rows.map((r) => r.map((x) => `acc ${x}`)) });
        }
        case 'evaluate':
          return reply({ val: models.map((a) => `val ${a}`), test: models.map((a) => `test ${a}`) });
        case 'checkpoint':
          return reply(new TextEncoder().encode(`${models[req.k]} ${req.meta}`));
        case 'free':
          models = [];
          return reply(null);
      }
    },
    terminate() {},
  };
  return w as unknown as Worker;
}

const SIX: Activation[] = ['sigmoid', 'tanh', 'relu', 'leaky_relu', 'elu', 'swish'];

describe('CpuPool', () => {
  it('deals the models round robin and puts every result back in the run order', async () => {
    const log: string[] = [];
    const pool = new CpuPool(4, () => fakeWorker(log));
    const engine = await pool.open('data/', DEFAULT_RUN, SIX);
    expect(log).toEqual(['open sigmoid,elu', 'open tanh,swish', 'open relu', 'open leaky_relu']);
    expect(engine.stepsPerEpoch).toBe(10);
    // Losses and accuracies arrive per worker; the trainer sees them per model, in order.
    const read = await engine.train(2, 3, 2) as unknown as { losses: string[][]; accuracies: string[][] };
    expect(read.losses).toEqual([0, 1].map((i) => SIX.map((a) => `${a}@2.${3 + i}`)));
    expect(read.accuracies).toEqual([0, 1].map((i) => SIX.map((a) => `acc ${a}@2.${3 + i}`)));
    expect(await engine.evaluate()).toEqual({ val: SIX.map((a) => `val ${a}`), test: SIX.map((a) => `test ${a}`) });
    expect(new TextDecoder().decode(await engine.checkpoint(4, 'm'))).toBe('elu m');
    expect(new TextDecoder().decode(await engine.checkpoint(3, 'm'))).toBe('leaky_relu m');
  });

  it('narrows to the models that go on, from their files, and frees the workers it no longer needs', async () => {
    const log: string[] = [];
    const pool = new CpuPool(4, () => fakeWorker(log));
    const engine = await pool.open('data/', DEFAULT_RUN, SIX);
    log.length = 0;
    const files = [new Uint8Array([1]), new Uint8Array([2])];
    const narrow = await engine.narrow([1, 5], files);
    expect(narrow.activations).toEqual(['tanh', 'swish']);
    expect(log.sort()).toEqual(['free', 'free', 'open swish from files', 'open tanh from files']);
    expect((await narrow.train(0, 0, 1) as unknown as { losses: string[][] }).losses).toEqual([['tanh@0.0', 'swish@0.0']]);
  });

  it('has every worker load the CPU module build it was made for', async () => {
    const log: string[] = [];
    const pool = new CpuPool(2, () => fakeWorker(log), 'relaxed');
    await pool.open('data/', DEFAULT_RUN, ['relu', 'tanh', 'elu']);
    expect(log).toEqual(['open relu,elu (relaxed)', 'open tanh (relaxed)']);
  });

  it('fails the pending requests when a worker dies', async () => {
    let worker: Worker | undefined;
    const pool = new CpuPool(1, () => (worker = fakeWorker([])));
    const engine = await pool.open('data/', DEFAULT_RUN, ['relu']);
    const dead = worker as unknown as { postMessage: () => void; onerror: (e: { message: string }) => void };
    dead.postMessage = () => {};
    const pending = engine.train(0, 0, 1);
    dead.onerror({ message: 'out of memory' });
    await expect(pending).rejects.toThrow('a CPU worker failed (out of memory)');
    await expect(pending).rejects.toBeInstanceOf(WorkerFailure);
  });

  it('tells a worker that cannot start from a request that fails', async () => {
    const refused = new CpuPool(2, () => { throw new DOMException('workers cannot start here', 'SecurityError'); });
    await expect(refused.open('data/', DEFAULT_RUN, ['relu'])).rejects.toEqual(new WorkerFailure('workers cannot start here'));
    const failing = new CpuPool(1, () => {
      const w = fakeWorker([]);
      w.postMessage = ({ id }: { id: number }) => queueMicrotask(() => w.onmessage?.({ data: { id, error: 'truncated checkpoint' } } as MessageEvent<PoolReply>));
      return w;
    });
    const error = await failing.open('data/', DEFAULT_RUN, ['relu'], [new Uint8Array(3)]).catch((e: unknown) => e);
    expect(error).toEqual(new Error('truncated checkpoint'));
    expect(error).not.toBeInstanceOf(WorkerFailure);
    // A worker that started but could not load its CPU module (WebKit's nested workers offline)
    // cannot work either: as if it had not started.
    const unloaded = new CpuPool(1, () => {
      const w = fakeWorker([]);
      w.postMessage = ({ id }: { id: number }) => queueMicrotask(() => w.onmessage?.({ data: { id, error: 'its CPU module did not load: Importing a module script failed.', unstarted: true } } as MessageEvent<PoolReply>));
      return w;
    });
    await expect(unloaded.open('data/', DEFAULT_RUN, ['relu'])).rejects.toEqual(new WorkerFailure('its CPU module did not load: Importing a module script failed.'));
  });
});
