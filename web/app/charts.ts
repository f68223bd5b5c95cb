// Live line charts with uPlot: one series per activation, resized with their container.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { aligned, type Line } from './series.js';

/** Okabe–Ito colours: distinguishable with colour-vision deficiencies, dark enough on white. */
export const COLOURS: Record<string, string> = {
  sigmoid: '#0072B2', tanh: '#D55E00', relu: '#009E73', leaky_relu: '#CC79A7', elu: '#8a6d00', swish: '#56B4E9',
};

export class LiveChart {
  private plot: uPlot | undefined;
  private lines: Line[] = [];

  constructor(private readonly el: HTMLElement, private readonly yLabel: string, private readonly xLabel: string,
    private readonly smoothing = 0) {
    new ResizeObserver(() => this.plot?.setSize(this.size())).observe(el);
  }

  private size() {
    const width = Math.max(200, this.el.clientWidth);
    return { width, height: Math.round(Math.min(320, Math.max(200, width * 0.6))) };
  }

  /** Replaces the chart's lines (a new plot only when the set of labels changes). */
  set(lines: Line[]): void {
    const sameLabels = this.plot !== undefined && lines.length === this.lines.length
      && lines.every((l, i) => l.label === this.lines[i]?.label);
    this.lines = lines;
    const data = aligned(lines, this.smoothing) as uPlot.AlignedData;
    if (sameLabels) {
      this.plot!.setData(data);
      return;
    }
    this.plot?.destroy();
    this.plot = new uPlot({
      ...this.size(),
      scales: { x: { time: false } },
      axes: [{ label: this.xLabel }, { label: this.yLabel }],
      series: [{ label: this.xLabel }, ...lines.map((l) => ({
        label: l.label, stroke: COLOURS[l.label] ?? '#333', width: 2, spanGaps: false,
        points: { show: (l.ys.length < 60) },
      }))],
    }, data, this.el);
  }

  /** Number of finite points per line, for tests and the accessibility summary. */
  counts(): Record<string, number> {
    return Object.fromEntries(this.lines.map((l) => [l.label, l.ys.filter(Number.isFinite).length]));
  }
}
