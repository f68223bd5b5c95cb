// Shared by the end-to-end tests: headless Chromium with WebGPU (SwiftShader when there is no
// GPU) through playwright-core, and static servers on 127.0.0.1 that the tests start and stop.
import { chromium, type Browser, type Page } from 'playwright-core';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import sirv from 'sirv';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const DATA_DIR = process.env.FASHION_MNIST_DIR ?? '/usr/share/datasets/fashion-mnist';
export const ARTIFACTS = 'test-results';

const FLAGS = [
  '--no-sandbox', '--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader',
  '--use-webgpu-adapter=swiftshader', '--disable-vulkan-surface', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  // The soak test reads exact heap sizes and collects garbage between samples.
  '--enable-precise-memory-info', '--js-flags=--expose-gc',
];

export function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
}

/** Serves `mounts` (URL prefix → directory) on 127.0.0.1 at a free port; `cors` lets any
 * origin read them (Access-Control-Allow-Origin: *), as a public data mirror does. */
export async function serve(mounts: Record<string, string>, opts: { cors?: boolean } = {}): Promise<{ url: string; close: () => Promise<void> }> {
  const setHeaders = opts.cors ? (res: { setHeader(k: string, v: string): void }) => res.setHeader('Access-Control-Allow-Origin', '*') : undefined;
  const handlers = Object.entries(mounts)
    .sort(([a], [b]) => b.length - a.length)
    .map(([prefix, dir]) => [prefix, sirv(dir, { dev: true, setHeaders })] as const);
  const server: Server = createServer((req, res) => {
    const hit = handlers.find(([prefix]) => (req.url ?? '/').startsWith(prefix));
    if (!hit) {
      res.statusCode = 404;
      res.end('not found');
      return;
    }
    const [prefix, handler] = hit;
    req.url = (req.url ?? '/').slice(prefix.length - 1) || '/';
    handler(req, res, () => {
      res.statusCode = 404;
      res.end('not found');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections(); // keep-alive connections would hold it open
    }),
  };
}

/** Forwards the page's console errors to the test log (a failing test then says why). */
export function logConsole(page: Page, tag: string): void {
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') console.log(`[${tag} ${m.type()}] ${m.text().slice(0, 2000)}`);
  });
  page.on('pageerror', (e) => console.log(`[${tag} pageerror] ${e.message}`));
}
