// "Add your own": a formula field with a live plot of f and f′ (the trainer's scalar evaluator,
// asked on every keystroke), the error shown where it is in the formula, parameters as number
// fields, and a name. A valid formula goes into the run's activation list (view/form.ts).
import type { Activation, ActivationCheck } from '../sdk/types.js';
import { BUILTIN_NAMES, type ActivationDef, type ActivationName } from '../app/config.js';
import { XYChart, colourOf } from './charts.js';

export interface EditorDeps {
  /** Asks the trainer to check `activation`; `shown` is called with its answer. */
  preview(activation: Activation, id: number): void;
  /** Puts the activation in the run's list. */
  add(name: ActivationName, def: ActivationDef): void;
  /** Names the form already holds (the built-ins and the custom ones). */
  names(): string[];
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export class Editor {
  private seq = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private last: ActivationCheck | null = null;
  /** The name being edited (replaced on Add), if an existing one was loaded. */
  private editing: ActivationName | null = null;
  private chart: XYChart | undefined;
  private readonly formula = $<HTMLInputElement>('fn-formula');
  private readonly name = $<HTMLInputElement>('fn-name');
  private readonly params = $('fn-params');
  private readonly addButton = $<HTMLButtonElement>('fn-add');

  constructor(private readonly deps: EditorDeps) {
    const editor = $('editor');
    // Enter in the editor must not submit the run form.
    editor.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); if (!this.addButton.disabled) this.add(); } });
    editor.addEventListener('input', () => this.changed());
    $('fn-add-param').addEventListener('click', () => { this.paramRow('', 1); this.changed(); });
    this.addButton.addEventListener('click', () => this.add());
    (editor as HTMLDetailsElement).addEventListener('toggle', () => { if ((editor as HTMLDetailsElement).open) this.changed(); });
    this.name.value = this.freeName();
  }

  /** Checks the formula again (once the trainer can: after it started). */
  refresh(): void {
    if (($('editor') as HTMLDetailsElement).open || this.formula.value) this.changed();
  }

  /** Loads an activation into the editor (Edit on a custom one, or a built-in as a template). */
  load(name: ActivationName, def: ActivationDef): void {
    this.editing = name;
    this.name.value = name;
    this.formula.value = def.formula;
    this.params.replaceChildren();
    for (const [k, v] of Object.entries(def.params)) this.paramRow(k, v);
    ($('editor') as HTMLDetailsElement).open = true;
    this.formula.focus();
    this.changed();
  }

  private freeName(): string {
    const taken = new Set(this.deps.names());
    let i = 1;
    while (taken.has(`mine_${i}`)) i++;
    return `mine_${i}`;
  }

  private paramRow(name: string, value: number): void {
    const row = document.createElement('div');
    row.className = 'param-row';
    const n = this.params.children.length;
    const nameInput = Object.assign(document.createElement('input'), { value: name, className: 'p-name', id: `fn-p-name-${n}`, spellcheck: false, size: 8 });
    const valueInput = Object.assign(document.createElement('input'), { type: 'number', step: 'any', value: String(value), className: 'p-value', id: `fn-p-value-${n}` });
    const nl = Object.assign(document.createElement('label'), { htmlFor: nameInput.id, textContent: 'parameter ' });
    const vl = Object.assign(document.createElement('label'), { htmlFor: valueInput.id, textContent: ' = ' });
    const remove = Object.assign(document.createElement('button'), { type: 'button', textContent: 'Remove', className: 'small' });
    remove.setAttribute('aria-label', `Remove parameter ${name || n + 1}`);
    remove.addEventListener('click', () => { row.remove(); this.changed(); });
    row.append(nl, nameInput, vl, valueInput, remove);
    this.params.append(row);
  }

  private def(): ActivationDef {
    const params: Record<string, number> = {};
    for (const row of this.params.querySelectorAll('.param-row')) {
      const k = row.querySelector<HTMLInputElement>('.p-name')!.value.trim();
      const v = Number(row.querySelector<HTMLInputElement>('.p-value')!.value);
      if (k) params[k] = v;
    }
    return { formula: this.formula.value, params };
  }

  private nameProblem(): string | null {
    const name = this.name.value.trim();
    if (!NAME.test(name) || name.length > 40) return 'The name is a letter or _, then letters, digits or _ (at most 40).';
    if (BUILTIN_NAMES.includes(name)) return `${name} is a built-in's name: choose another.`;
    if (name !== this.editing && this.deps.names().includes(name)) return `There is already an activation called ${name}.`;
    return null;
  }

  private changed(): void {
    clearTimeout(this.timer);
    this.addButton.disabled = true;
    this.timer = setTimeout(() => {
      const d = this.def();
      this.seq += 1;
      this.deps.preview({ name: this.name.value.trim() || 'formula', formula: d.formula, params: d.params }, this.seq);
    }, 120);
  }

  /** The trainer's answer to the latest preview (older ones are dropped). */
  shown(id: number, check: ActivationCheck, xs: number[], f: number[], df: number[]): void {
    if (id !== this.seq) return;
    this.last = check;
    const error = $('fn-error');
    const nameProblem = this.nameProblem();
    if (!check.ok) {
      // The formula with a caret under the column the error names.
      const caret = check.column ? `\n${' '.repeat(Math.max(0, check.column - 1))}^` : '';
      error.textContent = `${check.column ? `${this.formula.value}${caret}\n` : ''}${check.error ?? ''}`;
      this.formula.setAttribute('aria-invalid', 'true');
    } else {
      error.textContent = nameProblem ?? '';
      this.formula.removeAttribute('aria-invalid');
    }
    $('fn-derivative').textContent = check.ok ? `f′(x) = ${check.derivative}` : '';
    const warning = $('fn-warning');
    warning.textContent = check.ok && check.warning ? `Warning: ${check.warning}.` : '';
    warning.hidden = !warning.textContent;
    if (check.ok) {
      this.chart ??= new XYChart($('fn-chart'), 'x', 'value');
      const colour = colourOf(this.name.value.trim());
      this.chart.set(xs, [{ label: 'f(x)', ys: f, colour }, { label: 'f′(x)', ys: df, colour, dash: [6, 4] }]);
    }
    this.addButton.disabled = !check.ok || nameProblem !== null;
  }

  private add(): void {
    if (!this.last?.ok || this.nameProblem()) return;
    const name = this.name.value.trim();
    this.deps.add(name, this.def());
    this.editing = null;
    $('fn-error').textContent = `${name} is in the list of activation functions above.`;
    this.name.value = this.freeName();
    this.addButton.disabled = true;
  }
}
