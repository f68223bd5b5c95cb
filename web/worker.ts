// The trainer's thread: a dedicated Web Worker running app/host.ts (WebGPU works in workers).
// Commands come in as messages and events go out as messages; nothing here knows the page.
import { idbCache } from './app/cache.js';
import { createHost } from './app/host.js';
import type { Command, TrainerEvent } from './app/protocol.js';
import { idbRuns } from './app/runs.js';

// The DOM's typings describe a window; this file runs in a DedicatedWorkerGlobalScope.
const scope = self as unknown as {
  postMessage(message: TrainerEvent): void;
  onmessage: ((e: MessageEvent<Command>) => void) | null;
};

const host = createHost({ emit: (e) => scope.postMessage(e), store: idbRuns(), cache: idbCache, now: () => performance.now() });
scope.onmessage = (e) => host.handle(e.data);
