import { describe, expect, it } from 'vitest';
import { DEFAULT_RUN } from './config.js';
import { applyEvent, emptyRecord } from './protocol.js';
import type { SavedRun } from './runs.js';

describe('applyEvent', () => {
  const run: SavedRun = { id: 'a', startedAt: 1, config: DEFAULT_RUN, runs: [emptyRecord('relu'), emptyRecord('tanh')], finished: false };

  it('rebuilds the trainer’s run from its events, whatever arrives twice', () => {
    let mine = applyEvent(null, { type: 'run', run });
    expect(mine).toEqual(run);
    expect(mine).not.toBe(run);
    mine = applyEvent(mine, { type: 'losses', activation: 'relu', at: 0, values: [2.3, 2.1] });
    mine = applyEvent(mine, { type: 'losses', activation: 'relu', at: 2, values: [1.9] });
    mine = applyEvent(mine, { type: 'losses', activation: 'relu', at: 1, values: [2.1, 1.9, 1.7] }); // a resend from index 1
    mine = applyEvent(mine, { type: 'losses', activation: 'tanh', at: 0, values: [2.2] });
    const summary = { valAccuracy: [0.8], testAccuracyByEpoch: [0.79], testAccuracy: null, msPerEpoch: [12], stoppedEarly: false, divergedAt: null };
    mine = applyEvent(mine, { type: 'epoch', activation: 'relu', record: summary });
    expect(mine!.runs[0]).toEqual({ activation: 'relu', losses: [2.3, 2.1, 1.9, 1.7], ...summary });
    expect(mine!.runs[1]!.losses).toEqual([2.2]);
    expect(run.runs[0]!.losses).toEqual([]); // the trainer's object is not shared
  });

  it('ignores events for activations it does not know and before any run', () => {
    expect(applyEvent(null, { type: 'losses', activation: 'relu', at: 0, values: [1] })).toBeNull();
    const mine = applyEvent(null, { type: 'run', run });
    expect(applyEvent(mine, { type: 'losses', activation: 'elu', at: 0, values: [1] })).toEqual(run);
  });
});
