/**
 * The process harness: the engine, MCP, files and LibreChat Code API suites on the process executor,
 * run INSIDE a container of the Space image as the Space runs (uid 1000, no capabilities,
 * no-new-privileges, Docker's default seccomp, no Docker socket), with the repository mounted
 * read-only. test/space/process-suites.test.ts starts that container; run there, this config needs
 * no Docker at all. CODECELL_EXECUTOR=process comes from the container's environment (the Space
 * image sets it) and test/helpers pass it on.
 */
import os from 'node:os';
import path from 'node:path';
import { defineConfig } from 'vitest/config';

/** Suites that check Docker's own state, so they mean nothing without Docker; each with its reason. */
export const DOCKER_ONLY = {
  // Counts the server's containers with `docker ps` to show SIGTERM leaves none behind.
  'test/interfaces/cli-process.test.ts': 'checks containers left with docker ps',
  // A server killed with SIGKILL: the next one removes its containers (docker ps, docker rm -f).
  'test/interfaces/data-dir-owner.test.ts': 'takes over containers of a dead server through docker ps / docker rm',
  // Takes the Docker engine away from the server through a socket forwarder and reads its error.
  'test/interfaces/healthz.test.ts': 'reports the Docker engine going away',
  // Hangs the Docker engine under the server through a socket forwarder (the key attacks in it do not depend on the executor).
  'test/interfaces/metrics-key-attacks.test.ts': 'hangs the Docker engine under the server',
} as const;

export default defineConfig({
  // The repository is mounted read-only: Vite's cache goes to the container's own /tmp.
  cacheDir: path.join(os.tmpdir(), 'codecell-vitest-cache'),
  test: {
    env: { CODECELL_EXECUTOR: 'process' },
    include: ['test/engine/**/*.test.ts', 'test/interfaces/**/*.test.ts', 'test/files-e2e/**/*.test.ts', 'test/librechat-code-api/**/*.test.ts'],
    exclude: Object.keys(DOCKER_ONLY),
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // One file at a time, as the Docker tier: the suites share the machine's 2 cores.
    fileParallelism: false,
  },
});
