import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Tests start real servers on port 0, so files can run in parallel on the 2 cores.
    fileParallelism: true,
    reporters: ['default'],
  },
});
