import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Property tests retrain models many times; give them room on a 2-core CI box.
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
