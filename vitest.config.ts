import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // In the repository 'unequal' means the sources (as tsconfig.json's "paths" says for tsc and
    // tsx); the package's "exports" point at the build, which tests must not need.
    alias: [
      { find: /^unequal$/, replacement: fileURLToPath(new URL('./src/index.ts', import.meta.url)) },
      { find: /^unequal\/node$/, replacement: fileURLToPath(new URL('./src/node.ts', import.meta.url)) },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // Property tests retrain models many times; give them room on a 2-core CI box.
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
