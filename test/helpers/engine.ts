/** A real engine on a throwaway data dir, with small pools, for tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadSettings, type Settings } from '../../src/config/settings.js';
import { createEngine } from '../../src/engine/create-engine.js';
import type { Engine } from '../../src/engine/engine.js';
import type { FileService } from '../../src/files/file-service.js';
import { createLogger } from '../../src/logger.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { principalFor, type Principal } from '../../src/sessions/principal.js';

export interface TestEngine {
  readonly engine: Engine;
  readonly files: FileService;
  readonly settings: Settings;
  readonly metrics: Metrics;
  readonly principal: Principal;
  readonly dataDir: string;
  /** Shuts the engine down and deletes the data dir (unless keepData). */
  close(options?: { keepData?: boolean }): Promise<void>;
}

export const SMALL_POOLS = {
  CODECELL_POOL_PYTHON: '1',
  CODECELL_POOL_PYTHON_LEAN: '1',
  CODECELL_POOL_NODE: '1',
  CODECELL_POOL_BASH: '1',
};

/** The execution images the tests run on: CODECELL_IMAGE_PREFIX from the environment, when set (a branch's own images). */
export const TEST_IMAGES: Record<string, string> =
  process.env.CODECELL_IMAGE_PREFIX === undefined ? {} : { CODECELL_IMAGE_PREFIX: process.env.CODECELL_IMAGE_PREFIX };

/**
 * The executor the tests run on (CODECELL_EXECUTOR=process runs them on sandboxed processes), and the
 * Docker engine they use (DOCKER_HOST, as Docker's own clients read it), when set.
 */
export const TEST_EXECUTOR: Record<string, string> = Object.fromEntries(
  ['CODECELL_EXECUTOR', 'CODECELL_SANDBOX_DIR', 'CODECELL_ALLOW_WEAK_SANDBOX', 'DOCKER_HOST'].flatMap((name) => {
    const value = process.env[name];
    return value === undefined ? [] : [[name, value]];
  }),
);

export async function startTestEngine(
  overrides: Record<string, string> = {},
  existingDataDir?: string,
): Promise<TestEngine> {
  const dataDir = existingDataDir ?? mkdtempSync(path.join(os.tmpdir(), 'codecell-test-'));
  const settings = loadSettings({}, { LOG_LEVEL: 'silent', ...TEST_IMAGES, ...TEST_EXECUTOR, ...SMALL_POOLS, ...overrides, CODECELL_DATA_DIR: dataDir });
  const metrics = new Metrics({ collectProcessMetrics: false });
  const { engine, files } = await createEngine({ settings, logger: createLogger(settings.logLevel), metrics });
  return {
    engine,
    files,
    settings,
    metrics,
    principal: principalFor('test-key', 'test-user'),
    dataDir,
    async close(options = {}) {
      await engine.shutdown();
      if (!options.keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** False when the tests run on the process executor: checks of Docker's own state (containers left) apply only to Docker. */
export const TESTS_USE_DOCKER = process.env.CODECELL_EXECUTOR !== 'process';
