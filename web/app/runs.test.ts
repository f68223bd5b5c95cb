import { describe, expect, it } from 'vitest';
import { DEFAULT_RUN } from './config.js';
import { parseProgress, type Progress } from './runs.js';

describe('parseProgress', () => {
  const progress: Progress = {
    app: 'actlab', config: DEFAULT_RUN, activation: 'relu', epochsDone: 3,
    record: { activation: 'relu', losses: [2.3, 1.1], valAccuracy: [0.7, 0.8, 0.82], testAccuracyByEpoch: [0.69, 0.79, 0.8], testAccuracy: null, msPerEpoch: [1, 2, 3], stoppedEarly: false, divergedAt: null },
  };

  it('reads back the progress the page saves in a checkpoint', () => {
    expect(parseProgress(JSON.stringify(progress))).toEqual(progress);
  });

  it('refuses notes that do not describe a run, saying why', () => {
    for (const meta of ['', 'not json', '{"epoch":2}', JSON.stringify({ ...progress, app: 'other' }), JSON.stringify({ ...progress, epochsDone: '3' })]) {
      expect(() => parseProgress(meta)).toThrow(/not saved by the ActLab page/);
    }
  });
});
