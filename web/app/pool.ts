// The CPU module's models spread over workers, one core each: a run's models are dealt round
// robin to up to `size` workers (web/cpu-worker.ts), each with its own CPU module instance
// training its share on the same batches from the same keys, so the curves are those of one
// worker training them all (app/models.ts), only sooner. No shared memory, so no cross-origin
// isolation is needed. The pool is the `Engine` app/trainer.ts drives.
import type { CpuBuild } from '../sdk/simd.js';
import type { ActivationName, RunConfig } from './config.js';
import type { Engine, StepMetrics } from './trainer.js';

/** What a worker of the pool is asked (one at a time, in order). */
export type PoolRequest =
  /** Load the CPU module and the data (from the browser's cache where the page stored it),
   * then open `activations`, fresh or from their checkpoint `files`; replies stepsPerEpoch.
   * `simd`: the CPU module build to load (the page's own, so every worker computes alike). */
  | { op: 'open'; dataUrl: string; cfg: RunConfig; activations: ActivationName[]; files?: Uint8Array[]; simd: CpuBuild }
  | { op: 'train'; epoch: number; from: number; n: number }
  | { op: 'evaluate' }
  | { op: 'checkpoint'; k: number; meta: string }
  | { op: 'free' };

/** `unstarted`: the worker could not load its CPU module (some engines' nested workers cannot
 * fetch offline): the pool cannot work, as if the worker had not started. */
export type PoolReply = { id: number; value?: unknown; error?: string; unstarted?: boolean };

/** A worker of the pool could not start, or died: not an error of the request it was given. */
export class WorkerFailure extends Error {}

/** One worker of the pool, its requests as promises. */
class Member {
  private next = 0;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  constructor(private readonly worker: Worker) {
    worker.onmessage = (e: MessageEvent<PoolReply>) => {
      const w = this.waiting.get(e.data.id);
      this.waiting.delete(e.data.id);
      if (e.data.error !== undefined) w?.reject(e.data.unstarted ? new WorkerFailure(e.data.error) : new Error(e.data.error));
      else w?.resolve(e.data.value);
    };
    worker.onerror = (e) => this.fail(`a CPU worker failed (${e.message || 'no message'})`);
  }

  call<T>(req: PoolRequest): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, ...req });
    });
  }

  private fail(message: string): void {
    this.waiting.forEach((w) => w.reject(new WorkerFailure(message)));
    this.waiting.clear();
  }

  terminate(): void {
    this.fail('the CPU workers were stopped');
    this.worker.terminate();
  }
}

export class CpuPool {
  private readonly members: Member[] = [];

  constructor(readonly size: number, private readonly spawn: () => Worker, readonly build: CpuBuild = 'plain') {}

  /** An engine for `activations` on the pool (each worker's earlier models are freed first). */
  async open(dataUrl: string, cfg: RunConfig, activations: readonly ActivationName[], files?: Uint8Array[]): Promise<Engine> {
    const w = Math.max(1, Math.min(this.size, activations.length));
    while (this.members.length < w) {
      try {
        this.members.push(new Member(this.spawn()));
      } catch (e) {
        throw new WorkerFailure(e instanceof Error ? e.message : String(e));
      }
    }
    const parts = Array.from({ length: w }, (_, j) => activations.map((_, k) => k).filter((k) => k % w === j));
    // Workers this run leaves idle drop their earlier models.
    this.members.slice(w).forEach((m) => void m.call({ op: 'free' }).catch(() => undefined));
    const steps = await Promise.all(parts.map((ks, j) => this.members[j]!.call<number>({
      op: 'open', dataUrl, cfg, activations: ks.map((k) => activations[k]!), files: files && ks.map((k) => files[k]!), simd: this.build,
    })));
    return new PoolEngine(this, this.members.slice(0, w), parts, dataUrl, cfg, activations, steps[0]!);
  }

  terminate(): void {
    this.members.forEach((m) => m.terminate());
    this.members.length = 0;
  }
}

class PoolEngine implements Engine {
  constructor(
    private readonly pool: CpuPool, private readonly members: Member[], private readonly parts: number[][],
    private readonly dataUrl: string, private readonly cfg: RunConfig, readonly activations: readonly ActivationName[],
    readonly stepsPerEpoch: number,
  ) {}

  /** `[part][..][local model]` back into `[..][model]`. */
  private merge(byPart: number[][][], rows: number): number[][] {
    const out = Array.from({ length: rows }, () => new Array<number>(this.activations.length));
    byPart.forEach((part, j) => part.forEach((row, r) => row.forEach((x, i) => (out[r]![this.parts[j]![i]!] = x))));
    return out;
  }

  async train(epoch: number, from: number, n: number): Promise<StepMetrics> {
    const byPart = await Promise.all(this.members.map((m) => m.call<StepMetrics>({ op: 'train', epoch, from, n })));
    return { losses: this.merge(byPart.map((p) => p.losses), n), accuracies: this.merge(byPart.map((p) => p.accuracies), n) };
  }

  async evaluate(): Promise<{ val: number[]; test: number[] }> {
    const byPart = await Promise.all(this.members.map((m) => m.call<{ val: number[]; test: number[] }>({ op: 'evaluate' })));
    const [val, test] = this.merge(byPart.map((p) => [p.val, p.test]), 2);
    return { val: val!, test: test! };
  }

  checkpoint(k: number, meta: string): Promise<Uint8Array> {
    const j = this.parts.findIndex((ks) => ks.includes(k));
    return this.members[j]!.call<Uint8Array>({ op: 'checkpoint', k: this.parts[j]!.indexOf(k), meta });
  }

  narrow(keep: number[], files: Uint8Array[]): Promise<Engine> {
    return this.pool.open(this.dataUrl, this.cfg, keep.map((k) => this.activations[k]!), files);
  }

  free(): void {
    this.members.forEach((m) => void m.call({ op: 'free' }).catch(() => undefined));
  }
}

/** Workers for the CPU's models, one core each (up to six: one per model of the tutorial's
 * run), where there are cores to spare and workers can start workers. */
export function cpuPool(build: CpuBuild): CpuPool | undefined {
  const cores = Math.min(6, globalThis.navigator?.hardwareConcurrency ?? 1);
  if (cores < 2 || typeof Worker === 'undefined') return undefined;
  return new CpuPool(cores, () => new Worker(new URL('../cpu-worker.ts', import.meta.url), { type: 'module', name: 'actlab-cpu' }), build);
}
