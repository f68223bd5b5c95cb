// The run's results as the page shows them: the loss and validation-accuracy charts and the
// results table (with the tutorial's published values beside each activation).
import type { RunRecord } from '../app/runs.js';
import { earlyStopping, formatDuration } from '../app/series.js';
import { publishedCells } from '../app/published.js';
import { LiveChart } from './charts.js';

export class Results {
  private readonly loss = new LiveChart(document.getElementById('loss-chart')!, 'loss', 'step', 0.9);
  private readonly accuracy = new LiveChart(document.getElementById('acc-chart')!, 'accuracy', 'epoch');

  /** Points per activation in each chart (for tests and the console). */
  counts(): { loss: Record<string, number>; accuracy: Record<string, number> } {
    return { loss: this.loss.counts(), accuracy: this.accuracy.counts() };
  }

  draw(runs: RunRecord[], patience: number): void {
    this.loss.set(runs.map((r) => ({ label: r.activation, ys: r.losses })));
    this.accuracy.set(runs.map((r) => ({ label: r.activation, ys: r.valAccuracy })));
    const pct = (x: number | null | undefined) => (x === null || x === undefined ? '–' : `${(100 * x).toFixed(2)}%`);
    const epochs = (r: RunRecord) => `${r.valAccuracy.length}${r.divergedAt !== null && r.divergedAt !== undefined
      ? ` (diverged at step ${r.divergedAt})` : r.stoppedEarly ? ' (early stop)' : ''}`;
    document.querySelector('#results tbody')!.replaceChildren(...runs.map((r) => {
      const row = document.createElement('tr');
      const mean = r.msPerEpoch.length ? r.msPerEpoch.reduce((a, b) => a + b, 0) / r.msPerEpoch.length / 1000 : NaN;
      for (const v of [r.activation, epochs(r), pct(r.valAccuracy[earlyStopping(r.valAccuracy, patience).best]), pct(r.testAccuracy),
        formatDuration(mean), ...publishedCells(r.activation, r.testAccuracy)]) {
        row.insertCell().textContent = v;
      }
      return row;
    }));
  }
}
