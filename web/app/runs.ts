// Runs that survive a reload: each run's results (curves, table, config, seed) in IndexedDB
// (via idb-keyval), plus the checkpoint of its last completed epoch while it is unfinished, so
// an interrupted run (reload, crash, lost GPU) resumes where it was. No IndexedDB: no store.
import { clear as clearStore, createStore, del, entries, get, set } from 'idb-keyval';
import type { ActivationName, RunConfig } from './config.js';

/** What one activation's run produced; also what "Download results" saves. */
export interface RunRecord {
  activation: ActivationName;
  losses: number[];
  valAccuracy: number[];
  /** Per epoch, the mean loss and accuracy of its training batches (absent in runs saved
   * before). */
  trainLoss?: number[];
  trainAccuracy?: number[];
  /** Test accuracy after each epoch: the best epoch's (by validation) is `testAccuracy`. */
  testAccuracyByEpoch: number[];
  /** The best epoch's test accuracy, once the activation is done. */
  testAccuracy: number | null;
  msPerEpoch: number[];
  stoppedEarly: boolean;
  /** The step (1-based) whose loss was not finite: training that activation stopped there. */
  divergedAt: number | null;
}

/** A run as stored: results so far; `finished` once every activation is done. */
export interface SavedRun {
  id: string;
  startedAt: number;
  config: RunConfig;
  runs: RunRecord[];
  finished: boolean;
}

/**
 * The `meta` text saved in a checkpoint: where in which run the state is. Continuing from it
 * trains `activation` from epoch `epochsDone + 1` with `config`'s data, order and settings.
 */
export interface Progress {
  app: 'actlab';
  config: RunConfig;
  activation: ActivationName;
  epochsDone: number;
  record: RunRecord;
}

/** Where an unfinished run goes on from: every record as it was after epoch `epochsDone`, and
 * the checkpoints of the activations still training (all at that epoch, since they train in
 * one stack) with each one's best epoch when that was an earlier one (null: the latest). */
export interface ResumePoint {
  epochsDone: number;
  records: RunRecord[];
  latest: Record<string, Uint8Array>;
  best: Record<string, Uint8Array | null>;
}

export function parseProgress(meta: string): Progress {
  let p: Partial<Progress> | null = null;
  try {
    p = JSON.parse(meta) as Partial<Progress>;
  } catch {
    // handled below
  }
  if (!p || p.app !== 'actlab' || !p.config || !p.activation || typeof p.epochsDone !== 'number' || !p.record) {
    throw new Error('this checkpoint was not saved by the ActLab page (its notes do not describe a run), so there is nothing to continue');
  }
  return p as Progress;
}

export interface RunStore {
  save(run: SavedRun): Promise<void>;
  saveResume(id: string, point: ResumePoint): Promise<void>;
  resumePoint(id: string): Promise<ResumePoint | undefined>;
  /** Every stored run, newest first. */
  list(): Promise<SavedRun[]>;
  clear(): Promise<void>;
  /** A finished run's trained models (the best epoch's checkpoint of each activation's first
   * seed), for its analyses, samples and exports after a reload. Optional: a store may keep none. */
  saveModels?(id: string, models: Record<string, Uint8Array>): Promise<void>;
  models?(id: string): Promise<Record<string, Uint8Array> | undefined>;
}

export function idbRuns(): RunStore | undefined {
  if (typeof indexedDB === 'undefined') return undefined;
  const runs = createStore('actlab-runs', 'runs');
  const resume = createStore('actlab-resume', 'points');
  const models = createStore('actlab-models', 'models');
  return {
    save: async (run) => {
      await set(run.id, run, runs);
      if (run.finished) await del(run.id, resume);
    },
    saveResume: (id, point) => set(id, point, resume),
    resumePoint: (id) => get<ResumePoint>(id, resume),
    list: async () => (await entries<string, SavedRun>(runs)).map(([, r]) => r).sort((a, b) => b.startedAt - a.startedAt),
    clear: async () => {
      await clearStore(runs);
      await clearStore(resume);
      await clearStore(models);
    },
    saveModels: (id, m) => set(id, m, models),
    models: (id) => get<Record<string, Uint8Array>>(id, models),
  };
}
