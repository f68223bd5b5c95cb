import { defineConfig, type Connect } from 'vite';
import sirv from 'sirv';

// The dev and preview servers serve FashionMNIST's IDX files from the local directory
// ($FASHION_MNIST_DIR, Debian's dataset-fashion-mnist by default) at /data/fashion-mnist/,
// the page's default data URL (override with ?data=URL or VITE_DATA_URL at build time).
const dataDir = process.env.FASHION_MNIST_DIR ?? '/usr/share/datasets/fashion-mnist';
const serveData = (use: (path: string, fn: Connect.NextHandleFunction) => unknown) =>
  use('/data/fashion-mnist', sirv(dataDir, { dev: true, etag: true }));

export default defineConfig({
  build: { target: 'es2022', outDir: 'dist' },
  // The trainer's worker (web/worker.ts) is an ES module worker: it imports the wasm module.
  worker: { format: 'es' },
  server: { host: '127.0.0.1', fs: { allow: ['.'] } },
  preview: { host: '127.0.0.1' },
  plugins: [
    {
      name: 'fashion-mnist-data',
      // Block bodies: a function returned from these hooks would be run as a post-middleware hook.
      configureServer(server) {
        serveData((p, fn) => server.middlewares.use(p, fn));
      },
      configurePreviewServer(server) {
        serveData((p, fn) => server.middlewares.use(p, fn));
      },
    },
  ],
});
