// Fetching FashionMNIST's four IDX files: streamed with byte progress, gunzipped with the
// platform's DecompressionStream, optionally cached. No wasm here, so it is unit-tested in Node;
// parsing the IDX bytes (with typed errors for bad ones) is the crate's job.

/// The four official files, in the order `FashionData.parse` takes them.
export const FASHION_FILES = [
  'train-images-idx3-ubyte.gz',
  'train-labels-idx1-ubyte.gz',
  't10k-images-idx3-ubyte.gz',
  't10k-labels-idx1-ubyte.gz',
] as const;

export type FashionFiles = [Uint8Array, Uint8Array, Uint8Array, Uint8Array];

/** Progress of a load: bytes downloaded so far (of `total` when the server says), then parsing. */
export type LoadProgress =
  | { phase: 'download'; loaded: number; total: number | null }
  | { phase: 'decompress'; file: string }
  | { phase: 'cached' };

/** Where decompressed files are kept between visits (the app uses IndexedDB). */
export interface ByteCache {
  get(name: string): Promise<Uint8Array | undefined>;
  set(name: string, bytes: Uint8Array): Promise<void>;
}

export interface LoadOptions {
  onProgress?: (p: LoadProgress) => void;
  cache?: ByteCache;
  fetch?: typeof fetch;
}

/** A failure to load one file; the message names the file and what is wrong with it. */
export class DataLoadError extends Error {
  constructor(readonly file: string, message: string) {
    super(message);
    this.name = 'DataLoadError';
  }
}

/** Joins a base URL (with or without a trailing slash) and a file name. */
export function fileUrl(base: string, file: string): string {
  return (base.endsWith('/') ? base : base + '/') + file;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

async function readAll(stream: ReadableStream<Uint8Array>, onChunk?: (n: number) => void): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return concat(chunks);
    chunks.push(value);
    onChunk?.(value.length);
  }
}

const isGzip = (b: Uint8Array) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

/**
 * Decompresses gzip bytes; bytes that are not gzip (a raw IDX file) pass through unchanged.
 * A corrupt or truncated gzip stream is a `DataLoadError` naming `file`.
 */
export async function gunzip(file: string, bytes: Uint8Array): Promise<Uint8Array> {
  if (!isGzip(bytes)) return bytes;
  try {
    const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'));
    return await readAll(stream);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new DataLoadError(file, `${file} is not a valid gzip file (corrupt or truncated download?): ${why}`);
  }
}

/** Downloads one file, reporting each chunk's size. */
export async function download(url: string, file: string, onBytes: (n: number, total: number | null) => void,
  fetchFn: typeof fetch = fetch): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetchFn(url);
  } catch (e) {
    throw new DataLoadError(file, `cannot fetch ${url}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!res.ok || !res.body) {
    throw new DataLoadError(file, `cannot fetch ${url}: HTTP ${res.status}${res.status === 404 ? ' (not found: check the data URL)' : ''}`);
  }
  const len = Number(res.headers.get('content-length'));
  const total = Number.isFinite(len) && len > 0 ? len : null;
  return readAll(res.body, (n) => onBytes(n, total));
}

/**
 * The four FashionMNIST files from `baseUrl`, decompressed (raw IDX bytes), in `FASHION_FILES`
 * order. With a `cache`, files found there are not fetched (see `cacheFashionFiles`).
 */
export async function loadFashionFiles(baseUrl: string, opts: LoadOptions = {}): Promise<FashionFiles> {
  const { onProgress, cache } = opts;
  const fetchFn = opts.fetch ?? fetch;
  const cached = cache ? await Promise.all(FASHION_FILES.map((f) => cache.get(f))) : [];
  if (cached.length === FASHION_FILES.length && cached.every((b) => b !== undefined)) {
    onProgress?.({ phase: 'cached' });
    return cached as FashionFiles;
  }
  const loaded = FASHION_FILES.map(() => 0);
  const totals: (number | null)[] = FASHION_FILES.map(() => null);
  const report = () => {
    const total = totals.every((t) => t !== null) ? totals.reduce<number>((a, b) => a + (b ?? 0), 0) : null;
    onProgress?.({ phase: 'download', loaded: loaded.reduce((a, b) => a + b, 0), total });
  };
  const files = await Promise.all(FASHION_FILES.map(async (file, i) => {
    const hit = cached[i];
    if (hit) return hit;
    const bytes = await download(fileUrl(baseUrl, file), file, (n, total) => {
      loaded[i] = (loaded[i] ?? 0) + n;
      totals[i] = total;
      report();
    }, fetchFn);
    onProgress?.({ phase: 'decompress', file });
    return gunzip(file, bytes);
  }));
  return files as FashionFiles;
}

/** Stores a set of files once it parsed, so a corrupt download is never cached. */
export async function cacheFashionFiles(cache: ByteCache, files: FashionFiles): Promise<void> {
  await Promise.all(FASHION_FILES.map((f, i) => cache.set(f, files[i] as Uint8Array)));
}
