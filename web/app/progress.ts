// What the trainer says while FashionMNIST loads: a status line and, where known, a fraction.
import type { LoadProgress } from '../sdk/index.js';

export function describe(p: LoadProgress): [string, number | null] {
  const mb = (n: number) => (n / 1e6).toFixed(1);
  switch (p.phase) {
    case 'download':
      return [`Downloading FashionMNIST: ${mb(p.loaded)}${p.total ? ` of ${mb(p.total)}` : ''} MB`, p.total ? p.loaded / p.total : null];
    case 'decompress':
      return [`Decompressing ${p.file}…`, null];
    case 'cached':
      return ['Reading FashionMNIST from this browser’s cache…', null];
  }
}
