// The run form: built from the defaults and the query string (shareable runs), filled from a
// config, and read back with a message on each invalid field (parsing is app/config.ts). The
// activation list holds the built-ins (the tutorial's six, the others folded away), their
// parameters as number fields, and the user's own formulas (added by view/editor.ts).
import { ACTIVATIONS, BUILTINS } from '../sdk/types.js';
import {
  DEFAULT_RUN, decodeDef, encodeDef, formValuesOf, parseRunConfig, type ActivationDef, type ActivationName, type FormValues, type RunConfig,
} from '../app/config.js';
import { colourOf } from './charts.js';

const form = () => document.getElementById('controls') as HTMLFormElement;
const tutorial = ACTIVATIONS as readonly string[];

/** What the form asks of the page when a custom activation's Edit button is pressed. */
let onEdit: (name: ActivationName, def: ActivationDef) => void = () => undefined;

function swatch(name: string): HTMLSpanElement {
  const s = document.createElement('span');
  s.className = 'swatch';
  s.style.background = colourOf(name);
  s.setAttribute('aria-hidden', 'true');
  return s;
}

function checkbox(name: ActivationName, title: string): HTMLLabelElement {
  const label = document.createElement('label');
  const box = Object.assign(document.createElement('input'), { type: 'checkbox', name: 'activations', value: name });
  label.title = title;
  label.append(box, swatch(name), document.createTextNode(name));
  return label;
}

/** A built-in: its checkbox and a number field per parameter. */
function builtinItem(b: (typeof BUILTINS)[number]): HTMLElement {
  const item = document.createElement('div');
  item.className = 'act';
  item.append(checkbox(b.name, `${b.formula} — ${b.about}`));
  for (const [p, v] of Object.entries(b.params)) {
    const id = `param-${b.name}-${p}`;
    const label = Object.assign(document.createElement('label'), { htmlFor: id, className: 'param' });
    const input = Object.assign(document.createElement('input'), { id, type: 'number', step: 'any', value: String(v), className: 'param-value' });
    input.dataset.act = b.name;
    input.dataset.param = p;
    input.dataset.default = String(v);
    label.append(`${p} =`, input);
    item.append(label);
  }
  return item;
}

export function buildForm(query: URLSearchParams, edit: (name: ActivationName, def: ActivationDef) => void): void {
  onEdit = edit;
  const first = document.getElementById('builtin-list')!;
  const more = document.querySelector('#more-builtins .act-list')!;
  for (const b of BUILTINS) (tutorial.includes(b.name) ? first : more).append(builtinItem(b));
  // Settings come from the defaults, overridden by the query string.
  const values: FormValues = formValuesOf(DEFAULT_RUN);
  for (const name of Object.keys(values) as (keyof FormValues)[]) {
    if (name === 'custom') continue;
    const v = query.get(name);
    if (v === null) continue;
    if (name === 'activations') values.activations = v.split(',');
    else values[name] = v;
  }
  if (query.has('fn')) values.custom = query.getAll('fn');
  fillForm(values);
}

/** Adds (or replaces) a custom activation in the list, chosen. */
export function putCustom(name: ActivationName, def: ActivationDef): void {
  const builtin = BUILTINS.find((b) => b.name === name);
  if (builtin) {
    // A built-in's own formula with other parameters: its number fields say so.
    for (const input of paramInputs().filter((i) => i.dataset.act === name)) {
      const v = def.params[input.dataset.param!];
      input.value = String(v ?? input.dataset.default);
    }
    setChecked(name, true);
    return;
  }
  const list = document.getElementById('custom-list')!;
  const existing = [...list.querySelectorAll<HTMLElement>('.act')].find((e) => e.dataset.name === name);
  const item = document.createElement('div');
  item.className = 'act custom';
  item.dataset.name = name;
  const hidden = Object.assign(document.createElement('input'), { type: 'hidden', name: 'custom', value: encodeDef(name, def) });
  const code = document.createElement('code');
  code.textContent = `f(x) = ${def.formula}${Object.entries(def.params).map(([k, v]) => `, ${k} = ${v}`).join('')}`;
  const editButton = Object.assign(document.createElement('button'), { type: 'button', textContent: 'Edit', className: 'small' });
  editButton.setAttribute('aria-label', `Edit ${name}`);
  editButton.addEventListener('click', () => onEdit(name, def));
  const remove = Object.assign(document.createElement('button'), { type: 'button', textContent: 'Remove', className: 'small' });
  remove.setAttribute('aria-label', `Remove ${name}`);
  remove.addEventListener('click', () => item.remove());
  const box = checkbox(name, def.formula);
  box.querySelector('input')!.checked = true;
  item.append(box, code, editButton, remove, hidden);
  if (existing) existing.replaceWith(item);
  else list.append(item);
}

function paramInputs(): HTMLInputElement[] {
  return [...form().querySelectorAll<HTMLInputElement>('input.param-value')];
}

function setChecked(name: string, on: boolean): void {
  for (const box of form().querySelectorAll<HTMLInputElement>('input[name=activations]')) if (box.value === name) box.checked = on;
}

export function fillForm(values: FormValues): void {
  const f = form();
  document.getElementById('custom-list')!.replaceChildren();
  for (const input of paramInputs()) input.value = input.dataset.default!;
  for (const text of values.custom ?? []) {
    const d = decodeDef(text);
    if (typeof d !== 'string') putCustom(d.name, d.def);
  }
  for (const [name, v] of Object.entries(values)) {
    if (name === 'custom') continue;
    if (name === 'activations') {
      for (const box of f.querySelectorAll<HTMLInputElement>('input[name=activations]')) box.checked = (v as string[]).includes(box.value);
    } else {
      (f.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement).value = v as string;
    }
  }
  // A chosen built-in beyond the tutorial's six shows itself.
  const more = document.getElementById('more-builtins') as HTMLDetailsElement;
  if (more.querySelector('input[name=activations]:checked')) more.open = true;
}

/** The built-ins whose parameters the form changed, as definitions. */
function editedBuiltins(): string[] {
  const out: string[] = [];
  for (const b of BUILTINS) {
    const inputs = paramInputs().filter((i) => i.dataset.act === b.name);
    const params = Object.fromEntries(inputs.map((i) => [i.dataset.param!, Number(i.value)]));
    if (inputs.some((i) => i.value.trim() !== '' && Number(i.value) !== Number(i.dataset.default))) {
      out.push(encodeDef(b.name, { formula: b.formula, params }));
    }
  }
  return out;
}

/** The form's run config, or null (with the errors shown on their fields). */
export function readForm(): RunConfig | null {
  const f = form();
  const fd = new FormData(f);
  const values: FormValues = { activations: fd.getAll('activations').map(String), custom: [...fd.getAll('custom').map(String), ...editedBuiltins()] };
  for (const name of Object.keys(formValuesOf(DEFAULT_RUN)) as (keyof FormValues)[]) {
    if (name !== 'activations' && name !== 'custom') values[name] = String(fd.get(name) ?? '');
  }
  const bad = paramInputs().find((i) => !Number.isFinite(Number(i.value)) || i.value.trim() === '');
  const parsed = parseRunConfig(values);
  const list = document.getElementById('form-errors')!;
  list.replaceChildren();
  for (const el of f.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  const errors: Partial<Record<string, string>> = parsed.ok ? {} : { ...parsed.errors };
  if (bad) errors[bad.id] = `${bad.dataset.act}'s ${bad.dataset.param} must be a number`;
  if (parsed.ok && !bad) return parsed.config;
  for (const [field, msg] of Object.entries(errors)) {
    const li = document.createElement('li');
    li.id = `${field}-error`;
    li.textContent = msg ?? '';
    list.append(li);
    (f.elements.namedItem(field) as HTMLElement | null)?.setAttribute?.('aria-invalid', 'true');
  }
  return null;
}

export function formEpochs(): number {
  return Number((form().elements.namedItem('epochs') as HTMLInputElement).value) || 1;
}

/** Every activation name the form holds (chosen or not). */
export function formNames(): string[] {
  return [...form().querySelectorAll<HTMLInputElement>('input[name=activations]')].map((b) => b.value);
}
