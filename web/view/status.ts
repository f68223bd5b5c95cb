// The page's voice: the status line with its progress bar, the one-button offers (resume a run,
// a new GPU device), and the notice for a browser without WebGPU.
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

export function noWebGpuNotice(): void {
  const notice = $('notice');
  notice.hidden = false;
  notice.innerHTML = '<strong>This browser does not offer WebGPU</strong>, which ActLab needs to train on your GPU. '
    + 'Use a current Chrome or Edge (version 113 or later) on Windows, macOS or ChromeOS, Chrome on Android 12+, '
    + 'or Safari 26+. On Linux, enable <code>chrome://flags/#enable-unsafe-webgpu</code>; in Firefox, WebGPU ships in '
    + 'version 141+ on Windows and behind <code>dom.webgpu.enabled</code> elsewhere. There is no CPU fallback in the browser: '
    + 'the same crate trains on the CPU natively (see the README).';
  say('WebGPU is not available in this browser.', { error: true, progress: 0 });
}

/** Saves `content` as a file named `name` (the browser's download). */
export function download(content: Uint8Array | string | Blob, name: string, type: string): void {
  const part = content instanceof Uint8Array ? new Uint8Array(content) : content;
  const a = Object.assign(document.createElement('a'), { href: URL.createObjectURL(new Blob([part], { type })), download: name });
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}
