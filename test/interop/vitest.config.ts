/**
 * The interop tier: LibreChat's real client packages (installed apart, in test/interop/node_modules,
 * by scripts/install-interop.sh) against a real `codecell serve`. Run with `npm run test:interop`;
 * `npm test` runs it last. Files run one at a time, like the Docker tier, on the same engine.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'interop',
    include: ['test/interop/**/*.test.ts'],
    exclude: ['test/interop/node_modules/**'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    fileParallelism: false,
    globalSetup: ['test/global-setup.ts'],
  },
});
