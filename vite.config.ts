import { defineConfig, type Connect, type Plugin } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';
import sirv from 'sirv';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

// FashionMNIST's four official files: never committed. The dev and preview servers serve them
// from $FASHION_MNIST_DIR (Debian's dataset-fashion-mnist by default) at ./data/fashion-mnist/;
// `vite build` copies them into dist/ when it finds them (ACTLAB_BUNDLE_DATA=0 skips that), so
// dist/ works as is from any static server. Without them, the page loads the public copy.
const FILES = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'];
const PUBLIC_DATA = 'https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/';
const dataDir = process.env.FASHION_MNIST_DIR ?? '/usr/share/datasets/fashion-mnist';
const bundleData = process.env.ACTLAB_BUNDLE_DATA !== '0' && FILES.every((f) => existsSync(join(dataDir, f)));

const fashionMnist = (): Plugin => {
  const serveData = (use: (path: string, fn: Connect.NextHandleFunction) => unknown) =>
    use('/data/fashion-mnist', sirv(dataDir, { dev: true, etag: true }));
  let outDir = 'dist';
  return {
    name: 'fashion-mnist-data',
    // Block bodies: a function returned from these hooks would be run as a post-middleware hook.
    configureServer(server) {
      serveData((p, fn) => server.middlewares.use(p, fn));
    },
    configResolved(config) {
      outDir = config.build.outDir;
    },
    closeBundle() {
      if (!bundleData) return;
      const to = join(outDir, 'data', 'fashion-mnist');
      mkdirSync(to, { recursive: true });
      for (const f of FILES) copyFileSync(join(dataDir, f), join(to, f));
    },
  };
};

export default defineConfig(({ command }) => ({
  // Relative asset paths: dist/ works from any static server, also under a sub-path.
  base: './',
  build: { target: 'es2022', outDir: 'dist' },
  // The trainer's worker (web/worker.ts) is an ES module worker: it imports the wasm module.
  worker: { format: 'es' },
  // The default data URL (?data= overrides it; VITE_DATA_URL at build time too).
  define: { __ACTLAB_DATA__: JSON.stringify(command === 'serve' || bundleData ? './data/fashion-mnist/' : PUBLIC_DATA) },
  server: { host: '127.0.0.1', fs: { allow: ['.'] } },
  preview: { host: '127.0.0.1' },
  plugins: [
    fashionMnist(),
    // Offline after the first visit: a service worker precaches the page, its JS, CSS and the
    // .wasm (the data is in IndexedDB already); a new deploy's worker replaces them. The CPU
    // module is not precached (a GPU user never downloads it): it is cached when first used.
    VitePWA({
      registerType: 'autoUpdate',
      injectRegister: 'script-defer',
      manifest: false,
      workbox: {
        globPatterns: ['**/*.{html,js,css,wasm}'],
        globIgnores: ['**/actlab_cpu_bg*.wasm', '**/actlab_cpu_relaxed_bg*.wasm'],
        runtimeCaching: [{ urlPattern: /actlab_cpu(_relaxed)?_bg[^/]*\.wasm$/, handler: 'CacheFirst', options: { cacheName: 'actlab-cpu-module', expiration: { maxEntries: 2 } } }],
        maximumFileSizeToCacheInBytes: 32 * 2 ** 20,
        navigateFallback: 'index.html',
        cleanupOutdatedCaches: true,
      },
    }),
  ],
}));
