// How the page reaches the trainer (app/host.ts): in a dedicated Web Worker (web/worker.ts), so
// compiling and stepping never hold the page's thread, or, where a worker has no WebGPU, on the
// page's own thread. Either way commands go in and events come out asynchronously, as messages.
import { idbCache } from './cache.js';
import type { Command, TrainerEvent } from './protocol.js';
import { idbRuns } from './runs.js';

export interface Transport {
  send(cmd: Command): void;
  close(): void;
}

export function workerTransport(onEvent: (e: TrainerEvent) => void): Transport {
  const worker = new Worker(new URL('../worker.ts', import.meta.url), { type: 'module', name: 'actlab-trainer' });
  worker.onmessage = (m: MessageEvent<TrainerEvent>) => onEvent(m.data);
  worker.onerror = (e) => onEvent({ type: 'done', command: 'start', error: `the trainer's worker failed to start (${e.message || 'no message'})` });
  return { send: (cmd) => worker.postMessage(cmd), close: () => worker.terminate() };
}

/** The trainer on this thread (loaded on demand: the wasm module comes with it). */
export async function localTransport(onEvent: (e: TrainerEvent) => void): Promise<Transport> {
  const { createHost } = await import('./host.js');
  const host = createHost({
    emit: (e) => queueMicrotask(() => onEvent(e)), store: idbRuns(), cache: idbCache, now: () => performance.now(),
  });
  return { send: (cmd) => host.handle(structuredClone(cmd)), close: () => undefined };
}

/** The trainer in a worker (the default), or on this thread. */
export function openTransport(thread: 'worker' | 'page', onEvent: (e: TrainerEvent) => void): Promise<Transport> {
  return thread === 'page' ? localTransport(onEvent) : Promise.resolve(workerTransport(onEvent));
}
