/**
 * The attack suite again, under gVisor: `npm run test:runsc` (vitest run --config this file).
 * Same files, same assertions; helpers/harness.ts reads CODECELL_TEST_RUNTIME and starts every
 * test server with CODECELL_RUNTIME=runsc.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/security/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 300_000,
    fileParallelism: false,
    globalSetup: ['test/global-setup.ts'],
    env: { CODECELL_TEST_RUNTIME: 'runsc', TESTCONTAINERS_RYUK_DISABLED: 'true' },
  },
});
