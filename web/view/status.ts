// The page's voice: the status line with its progress bar, the one-button offers (resume a run,
// a new GPU device), and the notices that offer the CPU (no WebGPU, or a software adapter).
const $ = (id: string) => document.getElementById(id)!;

export interface SayOptions { error?: boolean; progress?: number | null }

/** Shows `msg` in the status line; `progress` null is "busy, amount unknown". */
export function say(msg: string, opts: SayOptions = {}): void {
  const status = $('status');
  const progress = $('progress') as HTMLProgressElement;
  status.textContent = msg;
  status.classList.toggle('error', opts.error ?? false);
  if (opts.progress === null) progress.removeAttribute('value');
  else if (opts.progress !== undefined) progress.value = opts.progress;
}

/** Shows `message` with one action button (and Dismiss) in the notice area. */
export function offer(message: string, action: string, run: () => void): void {
  const box = $('resume');
  const text = document.createElement('p');
  text.textContent = message;
  const button = Object.assign(document.createElement('button'), { type: 'button', textContent: action });
  const dismiss = Object.assign(document.createElement('button'), { type: 'button', textContent: 'Dismiss' });
  button.addEventListener('click', () => { box.hidden = true; run(); });
  dismiss.addEventListener('click', () => { box.hidden = true; });
  const buttons = document.createElement('div');
  buttons.className = 'buttons';
  buttons.append(button, dismiss);
  box.replaceChildren(text, buttons);
  box.hidden = false;
}

export function hideOffer(): void {
  $('resume').hidden = true;
}

/** A warning in the notice area, kept until the page is reloaded. */
export function warn(message: string): void {
  const notice = $('notice');
  notice.textContent = message;
  notice.hidden = false;
}

/** What the CPU module trains at, measured (docs/benchmark.md): one core, WebAssembly SIMD. */
export const CPU_SPEED = 'about 25 ms per step of one model (batch 256) on one core, and the models are spread over the '
  + 'cores: an epoch of all six activations on the 50,000 training images took 23 s on a 2-core test machine';

/** The notice area with a message and one button. */
function noticeWith(html: string, action: string, run: () => void): void {
  const notice = $('notice');
  notice.hidden = false;
  const text = document.createElement('p');
  text.innerHTML = html;
  const button = Object.assign(document.createElement('button'), { type: 'button', textContent: action });
  button.addEventListener('click', () => { notice.hidden = true; run(); });
  notice.replaceChildren(text, button);
}

/** No WebGPU here: what would give it, and the offer to train on the CPU instead. */
export function noWebGpuNotice(onCpu: () => void): void {
  noticeWith('<strong>This browser does not offer WebGPU</strong>, which ActLab uses to train on your GPU '
    + '(a current Chrome or Edge, Safari 26+, or Firefox 141+ on Windows have it; see the README). '
    + `It can train on the CPU instead, in WebAssembly: ${CPU_SPEED}.`, 'Train on the CPU', onCpu);
  say('WebGPU is not available in this browser: ActLab can train on the CPU instead.', { progress: 0 });
}

/** WebGPU is there but could not give a device (`error` says why): the CPU instead. */
export function gpuFailedNotice(error: string, onCpu: () => void): void {
  noticeWith('<strong>WebGPU is present in this browser but could not start</strong> (its adapter or device was refused; '
    + 'a driver on the browser\'s blocklist, or a GPU busy elsewhere, does that). '
    + `It can train on the CPU instead, in WebAssembly: ${CPU_SPEED}.`, 'Train on the CPU', onCpu);
  say(`WebGPU could not start: ${error}`, { error: true, progress: 0 });
}

/** The "GPU" is a software one (SwiftShader, lavapipe): the CPU module is faster here. */
export function softwareGpuNotice(onCpu: () => void): void {
  noticeWith('<strong>This browser\'s WebGPU adapter is a software one</strong> (it runs on the CPU, not a GPU): '
    + `ActLab's CPU module is faster here, ${CPU_SPEED}.`, 'Train on the CPU instead', onCpu);
}

/** Saves `content` as a file named `name` (the browser's download). */
export function download(content: Uint8Array | string | Blob, name: string, type: string): void {
  const part = content instanceof Uint8Array ? new Uint8Array(content) : content;
  const a = Object.assign(document.createElement('a'), { href: URL.createObjectURL(new Blob([part], { type })), download: name });
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}
