// The run form: built from the defaults and the query string (shareable runs), filled from a
// config, and read back with a message on each invalid field (parsing is app/config.ts).
import { ACTIVATIONS } from '../sdk/types.js';
import { DEFAULT_RUN, formValuesOf, parseRunConfig, type FormValues, type RunConfig } from '../app/config.js';
import { COLOURS } from './charts.js';

const form = () => document.getElementById('controls') as HTMLFormElement;

export function buildForm(query: URLSearchParams): void {
  const box = document.getElementById('activations')!;
  for (const a of ACTIVATIONS) {
    const label = document.createElement('label');
    label.innerHTML = `<input type="checkbox" name="activations" value="${a}">`
      + `<span class="swatch" style="background:${COLOURS[a]}" aria-hidden="true"></span>${a}`;
    box.append(label);
  }
  // Settings come from the defaults, overridden by the query string.
  const values: FormValues = formValuesOf(DEFAULT_RUN);
  for (const name of Object.keys(values) as (keyof FormValues)[]) {
    const v = query.get(name);
    if (v === null) continue;
    if (name === 'activations') values.activations = v.split(',');
    else values[name] = v;
  }
  fillForm(values);
}

export function fillForm(values: FormValues): void {
  const f = form();
  for (const [name, v] of Object.entries(values)) {
    if (name === 'activations') {
      for (const box of f.querySelectorAll<HTMLInputElement>('input[name=activations]')) box.checked = (v as string[]).includes(box.value);
    } else {
      (f.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement).value = v as string;
    }
  }
}

/** The form's run config, or null (with the errors shown on their fields). */
export function readForm(): RunConfig | null {
  const f = form();
  const fd = new FormData(f);
  const values: FormValues = { activations: fd.getAll('activations').map(String) };
  for (const name of Object.keys(formValuesOf(DEFAULT_RUN)) as (keyof FormValues)[]) {
    if (name !== 'activations') values[name] = String(fd.get(name) ?? '');
  }
  const parsed = parseRunConfig(values);
  const list = document.getElementById('form-errors')!;
  list.replaceChildren();
  for (const el of f.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  if (parsed.ok) return parsed.config;
  for (const [field, msg] of Object.entries(parsed.errors)) {
    const li = document.createElement('li');
    li.id = `${field}-error`;
    li.textContent = msg;
    list.append(li);
    (f.elements.namedItem(field) as HTMLElement | null)?.setAttribute?.('aria-invalid', 'true');
  }
  return null;
}

export function formEpochs(): number {
  return Number((form().elements.namedItem('epochs') as HTMLInputElement).value) || 1;
}
