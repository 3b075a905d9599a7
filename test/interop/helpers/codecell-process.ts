/**
 * A real Codecell, started the way users start it: `node dist/src/cli.js serve` with a recipe's
 * environment, on loopback, with its own data dir. Stopped with SIGTERM (its clean shutdown removes
 * its containers).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

const CLI = path.resolve('dist/src/cli.js');

export interface CodecellProcess {
  /** The server's root URL, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  /** What LibreChat puts in LIBRECHAT_CODE_BASEURL: the root URL plus /v1. */
  readonly codeBaseUrl: string;
  /** Every log line the server wrote so far (JSON text). */
  readonly logLines: string[];
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
    HOST: '127.0.0.1',
    PORT: '0',
    ...recipeEnv,
  };
  const child = spawn(process.execPath, [CLI, 'serve'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const logLines: string[] = [];
  const url = await listeningUrl(child, logLines);
  return {
    url,
    codeBaseUrl: `${url}/v1`,
    logLines,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function listeningUrl(child: ChildProcess, logLines: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    if (!child.stderr) throw new Error('no stderr');
    createInterface({ input: child.stderr }).on('line', (line) => {
      logLines.push(line);
      const entry = parseLogLine(line);
      if (entry?.msg === 'codecell listening' && typeof entry.url === 'string') resolve(entry.url.replace(/\/$/, ''));
    });
    child.once('exit', (code) => reject(new Error(`codecell exited early with ${code}:\n${logLines.join('\n')}`)));
  });
}

function parseLogLine(line: string): { msg?: unknown; url?: unknown } | undefined {
  try {
    return JSON.parse(line) as { msg?: unknown; url?: unknown };
  } catch {
    return undefined;
  }
}
