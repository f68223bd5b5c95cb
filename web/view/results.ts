// The run's results as the page shows them: the loss and accuracy charts and the results table
// (with the tutorial's published values beside each activation). With several seeds, each
// activation is one line, the seeds' mean, in a band from their min to their max, and one table
// row: its test accuracy as mean ± half the spread, and how many seeds escaped chance.
import type { RunConfig } from '../app/config.js';
import type { RunRecord } from '../app/runs.js';
import { accuracy, band, formatAccuracy, groups, type Group } from '../app/seeds.js';
import { earlyStopping, formatDuration, type Line } from '../app/series.js';
import { publishedCells } from '../app/published.js';
import { LiveChart, colourOf } from './charts.js';

/** One line per activation: its only model's curve, or the seeds' mean and band. */
function lines(gs: Group[], of: (r: RunRecord) => readonly number[], label = (a: string) => a, dash?: number[]): Line[] {
  return gs.flatMap((g): Line[] => {
    const name = label(g.activation);
    const colour = colourOf(g.activation);
    if (g.records.length === 1) return [{ label: name, ys: of(g.records[0]!), colour, dash }];
    const b = band(g.records.map(of));
    return [
      { label: name, ys: b.mean, colour, dash },
      { label: `${name} (lowest seed)`, ys: b.lo, colour, edge: { of: name, side: 'lo' } },
      { label: `${name} (highest seed)`, ys: b.hi, colour, edge: { of: name, side: 'hi' } },
    ];
  });
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

export class Results {
  private readonly loss = new LiveChart(document.getElementById('loss-chart')!, 'loss (cross-entropy)', 'training step', 0.9);
  private readonly accuracy = new LiveChart(document.getElementById('acc-chart')!, 'accuracy', 'epoch');

  /** Points per line in each chart (for tests and the console). */
  counts(): { loss: Record<string, number>; accuracy: Record<string, number> } {
    return { loss: this.loss.counts(), accuracy: this.accuracy.counts() };
  }

  draw(runs: RunRecord[], cfg: RunConfig): void {
    const gs = groups(cfg, runs);
    this.loss.set(lines(gs, (r) => r.losses));
    // Validation accuracy solid, training accuracy (the epoch's batches) dashed.
    this.accuracy.set([
      ...lines(gs, (r) => r.valAccuracy),
      ...lines(gs, (r) => r.trainAccuracy ?? [], (a) => `${a} (training)`, [5, 4]),
    ]);
    const pct = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : `${(100 * x).toFixed(2)}%`);
    const epochs = (r: RunRecord) => `${r.valAccuracy.length}${r.divergedAt !== null && r.divergedAt !== undefined
      ? ` (diverged at step ${r.divergedAt})` : r.stoppedEarly ? ' (early stop)' : ''}`;
    document.querySelector('#results tbody')!.replaceChildren(...gs.map((g) => {
      const row = document.createElement('tr');
      const name = row.insertCell();
      name.textContent = g.activation;
      const def = cfg.custom?.[g.activation];
      if (def) {
        // The run's own formula (or a built-in's other parameters) under its name.
        const code = document.createElement('code');
        code.className = 'def';
        code.textContent = `${def.formula}${Object.entries(def.params).map(([k, v]) => `, ${k} = ${v}`).join('')}`;
        name.append(document.createElement('br'), code);
      }
      const rs = g.records;
      const ms = rs.flatMap((r) => r.msPerEpoch);
      const best = mean(rs.map((r) => r.valAccuracy[earlyStopping(r.valAccuracy, cfg.patience).best] ?? NaN).filter(Number.isFinite));
      const acc = accuracy(g);
      const test = acc && acc.seeds > 1 ? `${formatAccuracy(acc)} · ${acc.escaped} of ${acc.seeds} seeds above chance` : formatAccuracy(acc);
      const epochCell = rs.length === 1 ? epochs(rs[0]!) : `${Math.min(...rs.map((r) => r.valAccuracy.length))}–${Math.max(...rs.map((r) => r.valAccuracy.length))} (${rs.length} seeds)`;
      for (const v of [epochCell, pct(best), test, formatDuration(mean(ms) / 1000), ...publishedCells(g.activation, acc?.mean ?? null, cfg)]) {
        row.insertCell().textContent = v;
      }
      return row;
    }));
  }
}
