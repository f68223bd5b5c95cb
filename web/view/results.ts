// The run's results as the page shows them: the loss and validation-accuracy charts and the
// results table (with the tutorial's published values beside each activation).
import type { RunConfig } from '../app/config.js';
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

  draw(runs: RunRecord[], cfg: RunConfig): void {
    const patience = cfg.patience;
    this.loss.set(runs.map((r) => ({ label: r.activation, ys: r.losses })));
    this.accuracy.set(runs.map((r) => ({ label: r.activation, ys: r.valAccuracy })));
    const pct = (x: number | null | undefined) => (x === null || x === undefined ? '–' : `${(100 * x).toFixed(2)}%`);
    const epochs = (r: RunRecord) => `${r.valAccuracy.length}${r.divergedAt !== null && r.divergedAt !== undefined
      ? ` (diverged at step ${r.divergedAt})` : r.stoppedEarly ? ' (early stop)' : ''}`;
    document.querySelector('#results tbody')!.replaceChildren(...runs.map((r) => {
      const row = document.createElement('tr');
      const mean = r.msPerEpoch.length ? r.msPerEpoch.reduce((a, b) => a + b, 0) / r.msPerEpoch.length / 1000 : NaN;
      const name = row.insertCell();
      name.textContent = r.activation;
      const def = cfg.custom?.[r.activation];
      if (def) {
        // The run's own formula (or a built-in's other parameters) under its name.
        const code = document.createElement('code');
        code.className = 'def';
        code.textContent = `${def.formula}${Object.entries(def.params).map(([k, v]) => `, ${k} = ${v}`).join('')}`;
        name.append(document.createElement('br'), code);
      }
      for (const v of [epochs(r), pct(r.valAccuracy[earlyStopping(r.valAccuracy, patience).best]), pct(r.testAccuracy),
        formatDuration(mean), ...publishedCells(r.activation, r.testAccuracy, cfg)]) {
        row.insertCell().textContent = v;
      }
      return row;
    }));
  }
}
