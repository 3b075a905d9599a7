/**
 * A real Codecell, started the way users start it: `node dist/src/cli.js serve` with a recipe's
 * environment, on loopback, with its own data dir. Stopped with SIGTERM (its clean shutdown removes
 * its containers).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

const CLI = path.resolve('dist/src/cli.js');

export type LogEntry = Record<string, unknown>;

export interface CodecellProcess {
  /** The server's root URL, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  /** What LibreChat puts in LIBRECHAT_CODE_BASEURL: the root URL plus /v1. */
  readonly codeBaseUrl: string;
  /** Every log entry the server wrote so far. */
  readonly log: LogEntry[];
  /** Resolves with the first log entry, from index `fromIndex` on, that `matches` (already written or still to come). */
  logEntry(matches: (entry: LogEntry) => boolean, fromIndex?: number): Promise<LogEntry>;
  stop(): Promise<void>;
}

/** Small pools so a test server starts quickly on a 2-core machine; the recipe's env comes on top. */
const TEST_BASE_ENV = {
  CODECELL_POOL_PYTHON: '1',
  CODECELL_POOL_PYTHON_LEAN: '1',
  CODECELL_POOL_NODE: '1',
  CODECELL_POOL_BASH: '1',
};

export async function startCodecell(recipeEnv: Record<string, string>): Promise<CodecellProcess> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'codecell-interop-'));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? os.tmpdir(),
    ...(process.env.CODECELL_IMAGE_PREFIX === undefined ? {} : { CODECELL_IMAGE_PREFIX: process.env.CODECELL_IMAGE_PREFIX }),
    ...(process.env.DOCKER_HOST === undefined ? {} : { DOCKER_HOST: process.env.DOCKER_HOST }),
    ...TEST_BASE_ENV,
    CODECELL_DATA_DIR: dataDir,
    PORT: '0',
    ...recipeEnv,
    // The recipes say HOST=0.0.0.0 (LibreChat in another container); the tier's LibreChat is this process.
    HOST: '127.0.0.1',
  };
  const child = spawn(process.execPath, [CLI, 'serve'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const log: LogEntry[] = [];
  const watchers = new Set<(entry: LogEntry) => void>();
  const rawLines: string[] = [];
  if (!child.stderr) throw new Error('no stderr');
  createInterface({ input: child.stderr }).on('line', (line) => {
    rawLines.push(line);
    const entry = parseLogLine(line);
    if (entry === undefined) return;
    log.push(entry);
    for (const watch of watchers) watch(entry);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  function logEntry(matches: (entry: LogEntry) => boolean, fromIndex = 0): Promise<LogEntry> {
    return new Promise((resolve, reject) => {
      const seen = log.slice(fromIndex).find(matches);
      if (seen !== undefined) return resolve(seen);
      const watch = (entry: LogEntry): void => {
        if (!matches(entry)) return;
        watchers.delete(watch);
        resolve(entry);
      };
      watchers.add(watch);
      void exited.then(() => {
        if (watchers.delete(watch)) reject(new Error(`codecell exited before the log entry was written:\n${rawLines.join('\n')}`));
      });
    });
  }

  const listening = await logEntry((entry) => entry.msg === 'codecell listening' && typeof entry.url === 'string');
  const url = String(listening.url).replace(/\/$/, '');
  return {
    url,
    codeBaseUrl: `${url}/v1`,
    log,
    logEntry,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function parseLogLine(line: string): LogEntry | undefined {
  try {
    const parsed: unknown = JSON.parse(line);
    return typeof parsed === 'object' && parsed !== null ? (parsed as LogEntry) : undefined;
  } catch {
    return undefined;
  }
}
