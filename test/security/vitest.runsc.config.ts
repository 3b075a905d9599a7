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
    // Probe budgets scale with gVisor's measured speed (helpers/budget.ts), retries included.
    testTimeout: 900_000,
    hookTimeout: 600_000,
    fileParallelism: false,
    globalSetup: ['test/global-setup.ts'],
    env: { CODECELL_TEST_RUNTIME: 'runsc', TESTCONTAINERS_RYUK_DISABLED: 'true' },
  },
});
