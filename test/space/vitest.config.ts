/**
 * The Space tier (`npm test` runs it last): test/space/*.test.ts build the Space image and run it as
 * Hugging Face runs it. space.test.ts plays the Space through MCP and attacks it;
 * process-suites.test.ts runs the engine, MCP, files and LibreChat Code API suites on the process
 * executor inside it (vitest.process.config.ts). Neither needs more of Docker than building and
 * running that one image.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/space/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 1_800_000,
    // Both files build the same image and run containers on a 2-core machine: one at a time.
    fileParallelism: false,
  },
});
