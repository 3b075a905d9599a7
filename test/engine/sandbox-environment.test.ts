/**
 * What code inside the sandbox is told about it, against the real images: the caps as the usual
 * interfaces report them, a notice when a run fails on the missing network, and a $HOME that stays
 * with the session (outside its files).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Language } from '../../src/domain/types.js';
import type { ExecutionResult } from '../../src/engine/types.js';
import { startTestEngine, TESTS_USE_DOCKER, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;

beforeAll(async () => {
  t = await startTestEngine({ EXECUTION_TIMEOUT: '30', CODECELL_MEMORY_MB: '320', CODECELL_CPUS: '1', CODECELL_SESSION_QUOTA_MB: '8' });
});

afterAll(async () => {
  await t?.close();
});

async function run(language: Language, code: string, sessionId?: string): Promise<ExecutionResult> {
  return t.engine.execute({ principal: t.principal, sessionId, language, code });
}

async function newSession(): Promise<string> {
  return (await t.engine.createSession(t.principal)).id;
}

const NO_NETWORK = /^This sandbox has no network access \(/;

describe('limits visible inside the sandbox', () => {
  it('Python: os.cpu_count(), multiprocessing and the thread-pool variables answer the 1-CPU cap', async () => {
    const result = await run(
      'python',
      'import os, multiprocessing\nprint(os.cpu_count(), multiprocessing.cpu_count(), os.environ["OMP_NUM_THREADS"], os.environ["OPENBLAS_NUM_THREADS"], os.environ["MKL_NUM_THREADS"], os.environ["CODECELL_MEMORY_LIMIT_MB"], os.environ["CODECELL_CPUS"])',
    );
    expect(result.status, JSON.stringify(result.error)).toBe('ok');
    expect(result.stdout.text.trim()).toBe('1 1 1 1 1 320 1');
  });

  it('Node: os.availableParallelism() and os.cpus() answer the cap, also through an ES import', async () => {
    const result = await run(
      'javascript',
      "import { availableParallelism } from 'node:os';\nconst os = require('os');\nconsole.log(availableParallelism(), os.cpus().length, process.env.CODECELL_MEMORY_LIMIT_MB);",
    );
    expect(result.status, JSON.stringify(result.error)).toBe('ok');
    expect(result.stdout.text.trim()).toBe('1 1 320');
  });

  it('a kept reference to os.cpu_count or fetch is carried to the next call like any built-in', async () => {
    const session = await newSession();
    const python = await run('python', 'import os\ncount = os.cpu_count', session);
    expect(python.notCarried).toEqual([]);
    expect((await run('python', 'count()', session)).value).toBe('1');
    const node = await run('javascript', "const get = fetch;\nconst parallelism = require('os').availableParallelism;", session);
    expect(node.notCarried).toEqual([]);
    const again = await run('javascript', "[get === fetch, parallelism()].join(' ')", session);
    expect(again.value).toBe("'true 1'");
  });

  it('bash: nproc answers the cap; the memory limit is in the environment', async () => {
    const result = await run('bash', 'echo "$(nproc) $CODECELL_CPU_COUNT $CODECELL_MEMORY_LIMIT_MB"');
    expect(result.stdout.text.trim()).toBe('1 1 320');
  });
});

describe('a run that fails on the missing network says so', () => {
  it('Python: a DNS lookup, urllib and a connection to an address', async () => {
    for (const code of [
      'import socket\nsocket.getaddrinfo("example.com", 443)',
      'import urllib.request\nurllib.request.urlopen("https://example.com/data.csv")',
      'import pandas as pd\npd.read_csv("https://example.com/data.csv")',
      'import socket\nsocket.create_connection(("93.184.216.34", 80), timeout=5)',
    ]) {
      const result = await run('python', code);
      expect(result.status).toBe('error');
      expect(result.notice, code).toMatch(NO_NETWORK);
      expect(result.notice).toContain('/mnt/data');
    }
  });

  it('Node: fetch names its cause instead of a bare "fetch failed"', async () => {
    const result = await run('javascript', "await fetch('https://example.com/data.json');");
    expect(result.status).toBe('error');
    expect(result.error?.message).toMatch(/^fetch failed: getaddrinfo (EAI_AGAIN|ENOTFOUND) example\.com$/);
    expect(result.notice).toMatch(NO_NETWORK);
    expect(result.notice).toContain('example.com');
  });

  it('bash: curl, wget and git clone', async () => {
    for (const code of [
      'curl -sS https://example.com/data.csv -o data.csv',
      // (wget -q prints nothing at all: then there is nothing to recognise)
      'wget https://example.com/data.csv',
      // In a Space (process executor sharing the server's uid) chmod by path is refused, so git fails
      // on its lock file before it reaches the network (docs/security.md): nothing network-related to tell.
      ...(TESTS_USE_DOCKER ? ['git clone https://github.com/example/repo.git'] : []),
    ]) {
      const result = await run('bash', code);
      expect(result.exitCode, code).not.toBe(0);
      expect(result.notice, code).toMatch(NO_NETWORK);
    }
  });

  it('stays quiet for a program that only talks about the network, and for a refused loopback connection', async () => {
    const own = await run('python', 'raise RuntimeError("the network is unreachable, name resolution failed")');
    expect(own.status).toBe('error');
    expect(own.notice).toBeNull();
    const loopback = await run('javascript', "await fetch('http://127.0.0.1:8765/');");
    expect(loopback.status).toBe('error');
    // Docker: nothing listens there; the process executor: no inet socket at all (seccomp)
    expect(loopback.error?.message).toMatch(/^fetch failed: connect (?:ECONNREFUSED|EAFNOSUPPORT) 127\.0\.0\.1:8765\b/);
    expect(loopback.notice).toBeNull();
  });
});

describe('a per-session $HOME', () => {
  it('keeps `git config --global` and ~/.config across calls and languages, outside the session files', async () => {
    const session = await newSession();
    const set = await run('bash', 'git config --global user.name "Ada Lovelace" && echo "$HOME"', session);
    expect(set.exitCode).toBe(0);
    expect(set.stdout.text.trim()).toBe('/home/sandbox');
    expect(set.files).toEqual([]);
    const read = await run('bash', 'git config --global user.name', session);
    expect(read.stdout.text.trim()).toBe('Ada Lovelace');

    const write = await run(
      'python',
      'import os, pathlib\np = pathlib.Path("~/.config/x/settings.txt").expanduser()\np.parent.mkdir(parents=True)\np.write_text("theme=dark")\nos.makedirs(os.path.expanduser("~/.cache"), exist_ok=True)\nopen(os.path.expanduser("~/.cache/blob"), "wb").write(b"\\0" * 200_000)',
      session,
    );
    expect(write.status, JSON.stringify(write.error)).toBe('ok');
    const again = await run('python', 'import pathlib\nprint(pathlib.Path("~/.config/x/settings.txt").expanduser().read_text())', session);
    expect(again.stdout.text.trim()).toBe('theme=dark');
    const fromNode = await run('javascript', "require('fs').readFileSync(require('os').homedir() + '/.gitconfig', 'utf8').includes('Ada Lovelace')", session);
    expect(fromNode.value).toBe('true');

    // Never one of the session's files, but counted in its quota.
    const listing = await t.files.list(t.principal, session);
    expect(listing.files.map((file) => file.path)).toEqual([]);
    expect(listing.usage.bytes).toBeGreaterThanOrEqual(200_000);
  });

  it('keeps what a failed run wrote to it, as with files', async () => {
    const session = await newSession();
    const failed = await run('python', 'import os\nopen(os.path.expanduser("~/.netrc"), "w").write("machine x")\nraise SystemExit(3)', session);
    expect(failed.status).toBe('error');
    const read = await run('bash', 'cat ~/.netrc', session);
    expect(read.stdout.text).toBe('machine x');
  });

  it('counts against the quota during a run: filling it stops the run, and what was written stays', async () => {
    const session = await newSession();
    // 1 MiB every 50 ms, 120 MiB at most: without the home in the quota this ends "ok" far over it.
    const fill = await run(
      'python',
      'import os, time\nos.makedirs(os.path.expanduser("~/.cache"), exist_ok=True)\nfor i in range(120):\n    open(os.path.expanduser(f"~/.cache/fill-{i:03}"), "wb").write(b"\\0" * (1024 * 1024))\n    time.sleep(0.05)',
      session,
    );
    expect(fill.status, `notice: ${fill.notice}`).toBe('killed');
    expect(fill.notice).toContain('passed their quota of 8 MiB');
    const count = await run('bash', 'ls ~/.cache | wc -l', session);
    const written = Number(count.stdout.text.trim());
    expect(written).toBeGreaterThan(7);
    expect(written).toBeLessThan(120);
  });

  it('goes with the session when it is closed', async () => {
    const session = await newSession();
    await run('bash', 'echo kept > ~/note', session);
    // A call answers before its home is back in the session; the history is read once it is.
    await t.engine.getHistory(t.principal, session);
    const home = path.join(t.dataDir, 'sessions', session, 'home');
    expect(existsSync(path.join(home, 'note'))).toBe(true);
    await t.engine.closeSession(t.principal, session);
    expect(existsSync(home)).toBe(false);
  });
});

describe('crash recovery', () => {
  it('puts a home left in a slot by a crashed server back into its session', async () => {
    const first = await startTestEngine({ CODECELL_POOL_PYTHON: '0', CODECELL_POOL_PYTHON_LEAN: '0', CODECELL_POOL_NODE: '0', CODECELL_POOL_BASH: '0' });
    const session = (await first.engine.createSession(first.principal)).id;
    await first.close({ keepData: true });
    // What a crash mid-run leaves: the session's files and home in a slot that names it.
    const slot = path.join(first.dataDir, 'slots', 'a'.repeat(24));
    mkdirSync(path.join(slot, 'data'), { recursive: true });
    mkdirSync(path.join(slot, 'home', '.config'), { recursive: true });
    writeFileSync(path.join(slot, 'owner'), session);
    writeFileSync(path.join(slot, 'data', 'results.csv'), 'a\n1\n');
    writeFileSync(path.join(slot, 'home', '.config', 'tool.ini'), 'x=1');
    const second = await startTestEngine({ CODECELL_POOL_PYTHON: '0', CODECELL_POOL_PYTHON_LEAN: '0', CODECELL_POOL_NODE: '0', CODECELL_POOL_BASH: '0' }, first.dataDir);
    try {
      const sessionDir = path.join(first.dataDir, 'sessions', session);
      expect(readFileSync(path.join(sessionDir, 'files', 'results.csv'), 'utf8')).toBe('a\n1\n');
      expect(readFileSync(path.join(sessionDir, 'home', '.config', 'tool.ini'), 'utf8')).toBe('x=1');
      expect(existsSync(slot)).toBe(false);
    } finally {
      await second.close();
      rmSync(first.dataDir, { recursive: true, force: true });
    }
  });
});
