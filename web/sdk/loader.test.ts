import { describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import { DataLoadError, FASHION_FILES, fileUrl, gunzip, loadFashionFiles, type ByteCache, type LoadProgress } from './loader.js';

const idx = (n: number) => Uint8Array.from({ length: n }, (_, i) => i % 251);

/** A fetch that serves `files` by name, counting requests. */
function fakeFetch(files: Record<string, Uint8Array>) {
  const requests: string[] = [];
  const fn = (async (input: RequestInfo | URL) => {
    const url = String(input);
    requests.push(url);
    const body = files[url.slice(url.lastIndexOf('/') + 1)];
    if (!body) return new Response('missing', { status: 404 });
    return new Response(body as Uint8Array<ArrayBuffer>, { headers: { 'content-length': String(body.length) } });
  }) as typeof fetch;
  return { fn, requests };
}

function mapCache(): ByteCache & { store: Map<string, Uint8Array> } {
  const store = new Map<string, Uint8Array>();
  return { store, get: async (k) => store.get(k), set: async (k, v) => { store.set(k, v); } };
}

const raw = FASHION_FILES.map((_, i) => idx(1000 + i));
const served = Object.fromEntries(FASHION_FILES.map((f, i) => [f, gzipSync(raw[i] as Uint8Array)]));

describe('fileUrl', () => {
  it('joins with exactly one slash', () => {
    expect(fileUrl('/data', 'a.gz')).toBe('/data/a.gz');
    expect(fileUrl('https://x.org/d/', 'a.gz')).toBe('https://x.org/d/a.gz');
  });
});

describe('gunzip', () => {
  it('decompresses gzip and passes raw IDX bytes through', async () => {
    const bytes = idx(5000);
    expect(await gunzip('f', gzipSync(bytes))).toEqual(bytes);
    expect(await gunzip('f', bytes)).toBe(bytes);
  });

  it('names the file of a truncated gzip stream', async () => {
    const gz = gzipSync(idx(5000));
    const err = await gunzip('train-images-idx3-ubyte.gz', gz.subarray(0, gz.length - 20)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataLoadError);
    expect((err as Error).message).toMatch(/^train-images-idx3-ubyte\.gz is not a valid gzip file/);
  });

  it('rejects a corrupt gzip body', async () => {
    const gz = gzipSync(idx(5000));
    gz.fill(0x55, 10, 40);
    await expect(gunzip('x.gz', gz)).rejects.toThrow(/x\.gz is not a valid gzip file/);
  });
});

describe('loadFashionFiles', () => {
  it('downloads, reports byte progress and decompresses all four files in order', async () => {
    const { fn, requests } = fakeFetch(served);
    const seen: LoadProgress[] = [];
    const files = await loadFashionFiles('/base/', { fetch: fn, onProgress: (p) => seen.push(p) });
    expect(files).toEqual(raw);
    expect(requests).toEqual(FASHION_FILES.map((f) => `/base/${f}`));
    const downloads = seen.filter((p) => p.phase === 'download');
    const total = Object.values(served).reduce((n, b) => n + b.length, 0);
    expect(downloads.at(-1)).toEqual({ phase: 'download', loaded: total, total });
    expect(seen.filter((p) => p.phase === 'decompress')).toHaveLength(4);
  });

  it('says which file is missing', async () => {
    const { fn } = fakeFetch({ ...served, 't10k-labels-idx1-ubyte.gz': undefined as unknown as Uint8Array });
    await expect(loadFashionFiles('/d', { fetch: fn })).rejects.toThrow('cannot fetch /d/t10k-labels-idx1-ubyte.gz: HTTP 404 (not found: check the data URL)');
  });

  it('uses a complete cache without fetching, and ignores an incomplete one', async () => {
    const cache = mapCache();
    FASHION_FILES.forEach((f, i) => cache.store.set(f, raw[i] as Uint8Array));
    const { fn, requests } = fakeFetch(served);
    const seen: LoadProgress[] = [];
    expect(await loadFashionFiles('/d', { fetch: fn, cache, onProgress: (p) => seen.push(p) })).toEqual(raw);
    expect(requests).toEqual([]);
    expect(seen).toEqual([{ phase: 'cached' }]);

    cache.store.delete(FASHION_FILES[2]);
    expect(await loadFashionFiles('/d', { fetch: fn, cache })).toEqual(raw);
    expect(requests).toEqual([`/d/${FASHION_FILES[2]}`]);
  });
});
