// Charts with uPlot: one series per activation, resized with their container. `LiveChart` plots
// training curves (x = step or epoch); `XYChart` plots the analyses (given x values, optional
// log y). `chartsPng` draws every chart of the page into one PNG.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { aligned, type Line } from '../app/series.js';

/** Okabe–Ito colours for the tutorial's six: distinguishable with colour-vision deficiencies,
 * dark enough on white. */
export const COLOURS: Record<string, string> = {
  sigmoid: '#0072B2', tanh: '#D55E00', relu: '#009E73', leaky_relu: '#CC79A7', elu: '#8a6d00', swish: '#56B4E9',
};

/** Paul Tol's muted palette for every other activation, picked by its name (stable per name). */
const MORE = ['#332288', '#117733', '#882255', '#AA4499', '#44AA99', '#999933', '#661100', '#6699CC', '#AA4466', '#4477AA', '#228833', '#000000'];

/** An activation's colour in every chart and the form. */
export function colourOf(name: string): string {
  const own = COLOURS[name];
  if (own) return own;
  let h = 0;
  for (const c of name) h = (h * 31 + c.codePointAt(0)!) >>> 0;
  return MORE[h % MORE.length]!;
}

const series = (lines: readonly Line[], points: boolean): uPlot.Series[] => lines.map((l) => {
  const colour = l.colour ?? colourOf(l.edge?.of ?? l.label);
  // A band's edges are thin and faint; the band between them is filled (`bands`).
  return l.edge
    ? { label: l.label, stroke: `${colour}66`, width: 1, spanGaps: false, points: { show: false } }
    : { label: l.label, stroke: colour, width: 2, spanGaps: false, points: { show: points }, dash: l.dash };
});

/** The fills between each line's band edges (series indices are 1-based: 0 is x). */
const bands = (lines: readonly Line[]): uPlot.Band[] => lines.flatMap((l, i) => {
  if (l.edge?.side !== 'hi') return [];
  const lo = lines.findIndex((m) => m.edge?.side === 'lo' && m.edge.of === l.edge!.of);
  return lo < 0 ? [] : [{ series: [i + 1, lo + 1] as [number, number], fill: `${l.colour ?? colourOf(l.edge.of)}22` }];
});

abstract class Chart {
  protected plot: uPlot | undefined;
  protected lines: Line[] = [];

  constructor(protected readonly el: HTMLElement, protected readonly xLabel: string, protected readonly yLabel: string) {
    new ResizeObserver(() => this.plot?.setSize(this.size())).observe(el);
  }

  protected size() {
    const width = Math.max(200, this.el.clientWidth);
    return { width, height: Math.round(Math.min(320, Math.max(200, width * 0.6))) };
  }

  protected draw(lines: Line[], data: uPlot.AlignedData, y: uPlot.Scale = {}): void {
    this.lines = lines;
    this.plot?.destroy();
    this.plot = new uPlot({
      ...this.size(),
      scales: { x: { time: false }, y },
      axes: [{ label: this.xLabel }, { label: this.yLabel }],
      series: [{ label: this.xLabel }, ...series(lines, (data[0]?.length ?? 0) < 60)],
      bands: bands(lines),
    }, data, this.el);
  }

  /** Number of finite points per line, for tests and the accessibility summary. */
  counts(): Record<string, number> {
    return Object.fromEntries(this.lines.map((l) => [l.label, l.ys.filter(Number.isFinite).length]));
  }
}

export class LiveChart extends Chart {
  constructor(el: HTMLElement, yLabel: string, xLabel: string, private readonly smoothing = 0) {
    super(el, xLabel, yLabel);
  }

  /** Replaces the chart's lines (a new plot only when the set of labels changes). */
  set(lines: Line[]): void {
    const sameLabels = this.plot !== undefined && lines.length === this.lines.length
      && lines.every((l, i) => l.label === this.lines[i]?.label);
    const data = aligned(lines, this.smoothing) as uPlot.AlignedData;
    if (sameLabels) {
      this.lines = lines;
      this.plot!.setData(data);
    } else {
      this.draw(lines, data);
    }
  }
}

export class XYChart extends Chart {
  constructor(el: HTMLElement, xLabel: string, yLabel: string, private readonly logY = false) {
    super(el, xLabel, yLabel);
  }

  /** Lines over shared `xs` (each `ys` as long as `xs`; non-finite values are gaps). */
  set(xs: readonly number[], lines: Line[]): void {
    const ys = lines.map((l) => l.ys.map((v) => (Number.isFinite(v) && (!this.logY || v > 0) ? v : null)));
    this.draw(lines, [[...xs], ...ys] as uPlot.AlignedData, this.logY ? { distr: 3 } : {});
  }
}

/** Every chart under `root` (figure caption, canvas, legend) drawn into one PNG. */
export async function chartsPng(root: ParentNode): Promise<Blob> {
  const figures = [...root.querySelectorAll('figure')].flatMap((f) => {
    const canvas = f.querySelector<HTMLCanvasElement>('.chart canvas');
    return canvas ? [{ title: f.querySelector('figcaption')?.textContent ?? '', canvas, legend: legendOf(f) }] : [];
  });
  if (figures.length === 0) throw new Error('there are no charts to export yet');
  const cell = { w: Math.max(...figures.map((f) => f.canvas.width)), h: Math.max(...figures.map((f) => f.canvas.height)) + 60 };
  const cols = Math.min(2, figures.length);
  const out = document.createElement('canvas');
  out.width = cols * cell.w;
  out.height = Math.ceil(figures.length / cols) * cell.h;
  const ctx = out.getContext('2d')!;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, out.width, out.height);
  figures.forEach((f, i) => {
    const [x, y] = [(i % cols) * cell.w, Math.floor(i / cols) * cell.h];
    ctx.fillStyle = '#1a1a1a';
    ctx.font = 'bold 16px sans-serif';
    ctx.fillText(f.title, x + 8, y + 20);
    ctx.drawImage(f.canvas, x, y + 28);
    ctx.font = '14px sans-serif';
    let lx = x + 8;
    for (const label of f.legend) {
      ctx.fillStyle = colourOf(label);
      ctx.fillText(`■ ${label}`, lx, y + 28 + f.canvas.height + 22);
      lx += ctx.measureText(`■ ${label}`).width + 16;
    }
  });
  return new Promise((resolve, reject) => out.toBlob((b) => (b ? resolve(b) : reject(new Error('the browser could not encode a PNG'))), 'image/png'));
}

function legendOf(figure: Element): string[] {
  return [...figure.querySelectorAll('.u-legend .u-series:not(:first-child) .u-label')].map((e) => e.textContent ?? '');
}
