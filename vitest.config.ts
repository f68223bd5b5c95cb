import { defineConfig } from 'vitest/config';

// Two projects: unit tests of the TypeScript that is not UI glue (Node, fast), and end-to-end
// tests that drive the built page in headless Chromium on WebGPU (slow: SwiftShader).
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['web/**/*.test.ts'], environment: 'node' } },
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
