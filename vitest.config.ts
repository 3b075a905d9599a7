/**
 * Two tiers. `unit` (test/unit/**) is pure logic, temp dirs and loopback HTTP: it needs no Docker
 * and runs first. `docker` is everything else under test/ (real engine, real containers); its
 * global setup checks the engine answers and that no Codecell container is left behind.
 * `npm run test:unit` runs the first alone; the gVisor pass has its own config
 * (test/security/vitest.runsc.config.ts).
 */
import { defineConfig } from 'vitest/config';

const UNIT_TESTS = 'test/unit/**/*.test.ts';
// LibreChat's client packages live in test/interop/node_modules: that tier has its own config.
const INTEROP_TESTS = 'test/interop/**';

export default defineConfig({
  test: {
    env: { TESTCONTAINERS_RYUK_DISABLED: 'true' },
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: [UNIT_TESTS],
          testTimeout: 20_000,
          // One module graph per worker instead of one per file: half the CPU. Unit files keep no
          // global state (no vi.mock; fake timers are restored after each test), so sharing is safe.
          isolate: false,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'docker',
          include: ['test/**/*.test.ts'],
          // test/space has its own config (test/space/vitest.config.ts): it runs the Space image.
          exclude: [UNIT_TESTS, INTEROP_TESTS, 'test/space/**'],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          // Docker-backed suites share one engine and a 2-core machine: run files one at a time.
          fileParallelism: false,
          globalSetup: ['test/global-setup.ts'],
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
