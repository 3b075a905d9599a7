import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // Docker-backed suites share one engine and a 2-core machine: run files one at a time.
    fileParallelism: false,
    globalSetup: ['test/global-setup.ts'],
    env: { TESTCONTAINERS_RYUK_DISABLED: 'true' },
  },
});
