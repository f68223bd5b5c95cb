import { defineConfig } from 'vitest/config';

// The CPU module's relaxed-SIMD build is tested in Node too: V8 has relaxed SIMD from 11.4
// (Node 22); Node 20's V8 11.3 has it behind a flag.
const [v8Major, v8Minor] = process.versions.v8.split('.').map(Number) as [number, number];
const relaxedSimd = v8Major < 11 || (v8Major === 11 && v8Minor < 4) ? ['--experimental-wasm-relaxed-simd'] : [];

// Two projects: unit tests of the TypeScript that is not UI glue (Node, fast), and end-to-end
// tests that drive the built page in headless Chromium on WebGPU (slow: SwiftShader).
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['web/**/*.test.ts'], environment: 'node', pool: 'forks', execArgv: relaxedSimd } },
      {
        test: {
          name: 'e2e',
          include: ['tests/**/*.e2e.ts'],
          environment: 'node',
          testTimeout: 15 * 60_000,
          hookTimeout: 5 * 60_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
