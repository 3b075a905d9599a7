/**
 * `codecell serve` for a person and for a machine, as real child processes: on a terminal (a
 * pseudo-terminal from `script`, bsdutils) readable log lines and the playground's address; with
 * stdout piped, JSON logs and nothing on stdout.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_EXECUTOR, TEST_IMAGES } from '../helpers/engine.js';
import { listeningUrl } from './helpers/server-process.js';

const CLI = path.resolve('dist/src/cli.js');
// ANSI colour and cursor sequences of the pretty printer and the terminal.
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;

let dataDir: string;

function serverEnv(): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? os.tmpdir(),
    TERM: 'xterm',
    CODECELL_DATA_DIR: dataDir,
    CODECELL_POOL_PYTHON: '0',
    CODECELL_POOL_PYTHON_LEAN: '0',
    CODECELL_POOL_NODE: '0',
    CODECELL_POOL_BASH: '0',
    ...TEST_IMAGES,
    ...TEST_EXECUTOR,
  };
}

const shellQuote = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`;

beforeAll(() => {
  spawnSync('npx', ['tsc', '-p', '.'], { stdio: 'ignore' });
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'codecell-tty-test-'));
});

afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

describe('codecell serve logs', () => {
  it('prints readable logs and the playground address on a terminal', async () => {
    const command = [process.execPath, CLI, 'serve', '--port', '0'].map(shellQuote).join(' ');
    // `script` gives the server a pseudo-terminal for stdout and stderr; its own group is ended below.
    const child = spawn('script', ['-qfec', command, '/dev/null'], { env: serverEnv(), stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    let seen = '';
    const line = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (data: Buffer) => {
        seen += data.toString('utf8').replace(ANSI, '');
        const match = /open (http:\/\/\S+\/) for the playground/.exec(seen);
        if (match) resolve(match[0]);
      });
      child.once('exit', (code) => reject(new Error(`exited early with ${code}: ${seen}`)));
    });
    expect(line).toMatch(/^open http:\/\/127\.0\.0\.1:\d+\/ for the playground$/);
    const port = Number(/:(\d+)\//.exec(line)![1]);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    expect(seen).toMatch(/\d\d:\d\d:\d\d\] INFO: codecell listening/);
    expect(seen).not.toContain('{"level":');
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    process.kill(-child.pid!, 'SIGTERM');
    await exited;
  });

  it('keeps JSON logs and prints nothing on stdout when stdout is piped', async () => {
    const child = spawn(process.execPath, [CLI, 'serve', '--port', '0'], { env: serverEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (data: Buffer) => (stdout += data.toString('utf8')));
    const stdoutEnded = new Promise<void>((resolve) => child.stdout.once('end', () => resolve()));
    // listeningUrl parses every stderr line as JSON: a readable line would fail it.
    const url = await listeningUrl(child);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    await stdoutEnded;
    expect(stdout).toBe('');
  });
});
