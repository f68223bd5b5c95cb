// The parsed dataset's files in IndexedDB (via idb-keyval), keyed by data URL, so a reload does
// not download FashionMNIST again. A browser without IndexedDB simply gets no cache.
import { createStore, get, set } from 'idb-keyval';
import type { ByteCache } from '../sdk/index.js';

export function idbCache(dataUrl: string): ByteCache | undefined {
  if (typeof indexedDB === 'undefined') return undefined;
  const store = createStore('actlab-data', 'files');
  return {
    get: (name) => get<Uint8Array>(`${dataUrl}|${name}`, store).catch(() => undefined),
    set: (name, bytes) => set(`${dataUrl}|${name}`, bytes, store).catch(() => undefined),
  };
}
