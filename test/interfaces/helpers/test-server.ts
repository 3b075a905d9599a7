/** A real Codecell HTTP server (real engine, real Docker) on 127.0.0.1 and a free port, for tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { loadSettings, type Settings } from '../../../src/config/settings.js';
import { createLogger } from '../../../src/logger.js';
import { Metrics } from '../../../src/metrics/metrics.js';
import { startHttpServer, type RunningServer } from '../../../src/server.js';
import { SMALL_POOLS, TEST_EXECUTOR, TEST_IMAGES } from '../../helpers/engine.js';

export const TEST_KEY = 'test-key-0123456789abcdef';

export interface TestServer {
  readonly url: string;
  readonly dataDir: string;
  readonly settings: Settings;
  readonly running: RunningServer;
  /** Closes the server; deletes the data dir unless keepData. */
  close(options?: { keepData?: boolean }): Promise<void>;
}

export interface TestServerOptions {
  /** Settings by environment name, on top of small pools and a throwaway data dir. */
  readonly env?: Record<string, string>;
  /** Reuse a data dir (a "restart"). */
  readonly dataDir?: string;
  readonly keepAliveMs?: number;
  readonly mcpSessionIdleMs?: number;
  /** Also set CODECELL_PUBLIC_URL to the server's own URL, so results carry download links. */
  readonly publicUrl?: boolean;
}

/** A port that was free a moment ago: needed when the public URL must be known before listening. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'codecell-http-test-'));
  const port = options.publicUrl === true ? await freePort() : 0;
  const settings = loadSettings(
    {},
    {
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      CODECELL_API_KEYS: TEST_KEY,
      ...TEST_IMAGES,
      ...TEST_EXECUTOR,
      ...SMALL_POOLS,
      ...(options.publicUrl === true ? { CODECELL_PUBLIC_URL: `http://127.0.0.1:${port}` } : {}),
      ...options.env,
      CODECELL_DATA_DIR: dataDir,
    },
  );
  const running = await startHttpServer({
    settings,
    logger: createLogger(settings.logLevel),
    metrics: new Metrics({ collectProcessMetrics: false }),
    keepAliveMs: options.keepAliveMs,
    mcpSessionIdleMs: options.mcpSessionIdleMs,
  });
  return {
    url: running.url,
    dataDir,
    settings,
    running,
    async close(closeOptions = {}) {
      await running.close();
      if (closeOptions.keepData !== true) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
