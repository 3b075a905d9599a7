/**
 * The Python image's runner (images/python) against images/PROTOCOL.md, driven directly with the
 * docker CLI: one throwaway container per run, mounted the way the host mounts it, the job line
 * on stdin and frames on stdout, checked against the host's own frame schemas.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FRAME_START, READY_NONCE } from '../../src/executor/runner-protocol.js';
import { useImageHarness, type Run as ImageRun } from './run-image.js';

const { hostDir, runContainer } = useImageHarness('python');

interface RunOptions {
  code: string;
  /** Host directory mounted at /mnt/data; a new one by default. */
  dataDir?: string;
  /** The `out` directory of an earlier run: its snapshot is mounted read-only and restored. */
  restoreFrom?: string;
  maxImages?: number;
  preload?: string;
  /** The job's args; left out of the job line when undefined. */
  args?: readonly string[];
}

interface Run extends ImageRun {
  dataDir: string;
  /** Host directory mounted at /run/codecell/out: holds `state` after the run. */
  outDir: string;
}

/** Runs one job in a new container, restoring the snapshot of `restoreFrom` when given. */
async function runCell(options: RunOptions): Promise<Run> {
  const dataDir = options.dataDir ?? hostDir();
  const outDir = hostDir();
  const { stdout, exitCode, ready, result, output, stderr } = await runContainer({
    code: options.code,
    dataDir,
    inDir: options.restoreFrom ?? hostDir(),
    outDir,
    restore: options.restoreFrom !== undefined,
    maxImages: options.maxImages,
    args: options.args,
    env: { CODECELL_PRELOAD: options.preload ?? '' },
  });
  expect(stdout.indexOf(FRAME_START + READY_NONCE)).toBe(0); // nothing before the ready frame
  // Once it has answered, the runner waits to be stopped (images/PROTOCOL.md); the harness kills it.
  expect(exitCode).toBe(137);
  return { ready, result, output, stderr, dataDir, outDir };
}

/** Width and height from a PNG's IHDR chunk, after checking the signature. */
function pngSize(base64: string): { width: number; height: number } {
  const png = Buffer.from(base64, 'base64');
  expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  expect(png.subarray(12, 16).toString('ascii')).toBe('IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

describe('python runner: running a cell', () => {
  it('sends the ready frame, streams print output and returns the trailing value', async () => {
    const run = await runCell({
      code: 'import sys\nprint("hello from the cell")\nassert sys.stdin.read() == ""\n6 * 7',
    });
    expect(run.ready).toEqual({ type: 'ready', runtime: 'python', version: expect.stringMatching(/^3\.\d+\.\d+/) });
    expect(run.output).toBe('hello from the cell\n');
    expect(run.result).toMatchObject({ outcome: 'ok', value: '42', error: null, exitCode: 0, stateSaved: true });
  });

  it('puts the job\'s args in sys.argv, with the cell\'s own line numbers and __future__ imports intact', async () => {
    const run = await runCell({
      code: 'from __future__ import annotations\nimport sys\nprint(sys.argv)\nraise ValueError(sys.argv[2])',
      args: ['a b', 'c\nd', ''],
    });
    expect(run.output).toBe(`['', 'a b', 'c\\nd', '']\n`);
    expect(run.result.error).toMatchObject({ name: 'ValueError', message: 'c\nd' });
    expect(run.result.error?.traceback).toMatch(/"<cell>", line 4\b/);
    const without = await runCell({ code: 'import sys\nprint(sys.argv)' });
    expect(without.output).toBe(`['']\n`);
  });

  it('sends no value when the last statement is not an expression or is None', async () => {
    const run = await runCell({ code: 'x = 1\nNone' });
    expect(run.result.value).toBeNull();
    expect(run.result.outcome).toBe('ok');
  });

  it('reports an exception with a traceback of the cell and library frames only', async () => {
    const run = await runCell({
      code: 'import json\ndef parse(text):\n    return json.loads(text)\nprint("before")\nparse("{broken")',
    });
    expect(run.output).toBe('before\n');
    expect(run.result).toMatchObject({ outcome: 'error', exitCode: 1, value: null });
    const error = run.result.error!;
    expect(error.name).toBe('JSONDecodeError');
    expect(error.message).toContain('Expecting property name');
    expect(error.traceback).toMatch(/^Traceback \(most recent call last\):\n {2}File "<cell>", line 5, in <module>\n/);
    expect(error.traceback).toContain('File "<cell>", line 3, in parse\n    return json.loads(text)');
    expect(error.traceback).toContain('json/decoder.py');
    expect(error.traceback).not.toMatch(/codecell_runner|\/opt\/codecell/);
  });

  it('reports a syntax error with its place in the cell', async () => {
    const run = await runCell({ code: 'x = 1\ndef broken(:\n    pass' });
    expect(run.result.outcome).toBe('error');
    expect(run.result.error).toMatchObject({ name: 'SyntaxError' });
    expect(run.result.error!.traceback).toContain('File "<cell>", line 2');
  });

  it('answers and saves although a signal timer the cell left armed fires with a raising handler', async () => {
    // The handler raises once the cell has ended; saving a large value takes long enough for many ticks.
    const run = await runCell({
      code: [
        'import signal',
        'finished = False',
        'def on_alarm(*args):',
        '    if finished:',
        '        raise RuntimeError("alarm")',
        'signal.signal(signal.SIGALRM, on_alarm)',
        'signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)',
        'rows = list(range(3_000_000))',
        'finished = True',
      ].join('\n'),
    });
    // The runner's own work is never cut short: the state is saved. A tick that lands in the cell's
    // last instructions, before the timers are cancelled, is the cell's own error (under load it can).
    expect(run.result.stateSaved, JSON.stringify(run.result.error)).toBe(true);
    if (run.result.outcome !== 'ok') expect(run.result.error).toMatchObject({ name: 'RuntimeError', message: 'alarm' });
  });

  it('reports sys.exit(n) as exit code n and still saves the state', async () => {
    const run = await runCell({ code: 'kept = "yes"\nimport sys\nprint("leaving")\nsys.exit(3)' });
    expect(run.output).toBe('leaving\n');
    expect(run.result).toMatchObject({ outcome: 'error', exitCode: 3, stateSaved: true });
    expect(run.result.error!.name).toBe('SystemExit');
    expect(existsSync(path.join(run.outDir, 'state'))).toBe(true);
    expect(existsSync(path.join(run.outDir, 'state.tmp'))).toBe(false);
  });

  it('says which threads and child processes the cell left running (stopped with it), not daemon threads or finished ones', async () => {
    const run = await runCell({
      code: [
        'import os, subprocess, threading',
        'from concurrent.futures import ThreadPoolExecutor',
        'done = threading.Event()',
        'def wait_for_done():',
        '    done.wait()',
        "threading.Thread(target=wait_for_done, name='worker').start()",
        "threading.Thread(target=wait_for_done, name='helper', daemon=True).start()",
        "finished = threading.Thread(target=lambda: print('joined', end=' '), name='finished')",
        'finished.start(); finished.join()',
        "proc = subprocess.Popen(['sleep', '60'])",
        "os.system('sleep 61 &')",
        "subprocess.run(['true'])",
        // A library's idle pool: a script's exit would shut it down too, losing nothing.
        'pool = ThreadPoolExecutor(2)',
        "print(list(pool.map(len, ['ab', 'c'])))",
      ].join('\n'),
    });
    expect(run.result.outcome, JSON.stringify(run.result.error)).toBe('ok');
    expect(run.output).toBe('joined [2, 1]\n');
    expect(run.result.notices).toEqual([
      expect.stringMatching(/^1 thread the cell started \('worker'\) was still running when it ended, and stopped with it/),
      expect.stringMatching(/^2 processes the cell started \('sleep 60', 'sleep 61'\) were still running when it ended, and stopped with it/),
    ]);
    // Joined threads, finished processes, and the pools of multiprocessing and joblib left open.
    const calm = await runCell({
      code: [
        'import multiprocessing, subprocess, threading',
        'from joblib import Parallel, delayed',
        "t = threading.Thread(target=print, args=('x',))",
        "t.start(); t.join(); subprocess.run(['true'])",
        'pool = multiprocessing.Pool(2)',
        'print(pool.map(abs, [-1]), Parallel(n_jobs=2)(delayed(abs)(i) for i in [-2]))',
      ].join('\n'),
    });
    expect(calm.result.outcome, JSON.stringify(calm.result.error)).toBe('ok');
    expect(calm.result.notices).toEqual([]);
  });

  it('answers and saves when telling what was left running fails (a thread name whose repr raises SystemExit), and names a fork as one', async () => {
    const run = await runCell({
      code: [
        'import os, threading, time',
        'kept = 42',
        'class Evil(str):',
        '    def __repr__(self): raise SystemExit(3)',
        'def nap(): time.sleep(30)',
        "t = threading.Thread(target=nap, name='n'); t._name = Evil('x'); t.start()",
      ].join('\n'),
    });
    expect(run.result).toMatchObject({ outcome: 'ok', stateSaved: true });
    const fork = await runCell({ code: 'import os, time\nif os.fork() == 0:\n    time.sleep(30)\n    os._exit(0)' });
    expect(fork.result.notices).toEqual([expect.stringMatching(/^1 process the cell started \(a fork of the cell, pid \d+\) was still running/)]);
  });

  it('imports the CODECELL_PRELOAD modules while warming up, ignoring ones that fail', async () => {
    const run = await runCell({ code: '1', preload: 'numpy, pandas,no_such_module' });
    expect(run.result.outcome).toBe('ok');
    expect(run.result.loadedModules).toEqual(['numpy', 'pandas']);
  });
});

describe('python runner: state across containers', () => {
  it('carries a DataFrame, a function, a class instance and a module alias', async () => {
    const first = await runCell({
      code: [
        'import numpy as np',
        'import pandas as pd',
        'df = pd.DataFrame({"n": [1, 2, 3], "s": ["a", "b", "c"]})',
        'same = df',
        'factor = 2',
        'def scaled(v):',
        '    return v * factor',
        'class Counter:',
        '    def __init__(self):',
        '        self.count = 0',
        '    def bump(self):',
        '        self.count += 1',
        '        return self.count',
        'counter = Counter()',
        'counter.bump()',
      ].join('\n'),
    });
    expect(first.result).toMatchObject({ outcome: 'ok', stateSaved: true, stateError: null, notCarried: [] });

    const second = await runCell({
      restoreFrom: first.outDir,
      dataDir: first.dataDir,
      code: [
        'factor = 10  # the carried function must see the new value',
        'print(np.__name__, int(df["n"].sum()), list(df["s"]), same is df)',
        'print(scaled(4), counter.bump(), isinstance(counter, Counter))',
      ].join('\n'),
    });
    expect(second.result).toMatchObject({ outcome: 'ok', notCarried: [] });
    expect(second.output).toBe("numpy 6 ['a', 'b', 'c'] True\n40 2 True\n");
    expect(second.result.loadedModules).toEqual(expect.arrayContaining(['numpy', 'pandas']));
  });

  it('reports an open file as not carried and carries the other values', async () => {
    const first = await runCell({ code: 'fh = open("notes.txt", "w")\nkept = [1, 2]' });
    expect(first.result.notCarried).toEqual([
      { name: 'fh', type: 'TextIOWrapper', reason: expect.stringContaining('open file objects cannot be carried') },
    ]);
    const second = await runCell({
      restoreFrom: first.outDir,
      dataDir: first.dataDir,
      code: 'print(kept, "fh" in globals())',
    });
    expect(second.output).toBe('[1, 2] False\n');
  });

  it('reports a value that no longer restores and restores the others, shared objects included', async () => {
    const dataDir = hostDir();
    writeFileSync(path.join(dataDir, 'shapes.py'), 'class Square:\n    side = 2\n');
    const first = await runCell({
      dataDir,
      code: [
        'import shapes',
        'shared = [1, 2]',
        'square = shapes.Square()',
        'both = {"square": square, "shared": shared}',
        'alias = shared',
      ].join('\n'),
    });
    expect(first.result).toMatchObject({ outcome: 'ok', notCarried: [] });
    unlinkSync(path.join(dataDir, 'shapes.py'));

    const second = await runCell({
      restoreFrom: first.outDir,
      dataDir,
      code: 'print(sorted(k for k in globals() if not k.startswith("__")), alias is shared)',
    });
    expect(second.result.notCarried).toEqual([
      { name: 'shapes', type: 'module', reason: "restore failed: ModuleNotFoundError: No module named 'shapes'" },
      { name: 'square', type: 'Square', reason: "restore failed: ModuleNotFoundError: No module named 'shapes'" },
      { name: 'both', type: 'dict', reason: expect.stringMatching(/^restore failed: it shares objects with square/) },
    ]);
    expect(second.output).toBe("['alias', 'shared'] True\n");
  });
});

describe('python runner: figures', () => {
  it('sends plt.show() and still-open figures as PNG, up to maxImages', async () => {
    const run = await runCell({
      maxImages: 2,
      code: [
        'import matplotlib.pyplot as plt',
        'plt.rcParams["savefig.bbox"] = "standard"  # the default is tight; standard keeps the exact size',
        'plt.figure(figsize=(4, 3), dpi=100)',
        'plt.plot([1, 2, 3], [1, 4, 9])',
        'plt.show()',
        'plt.figure(figsize=(2, 1))',
        'plt.figure(figsize=(1, 1))',
        'len(plt.get_fignums())',
      ].join('\n'),
    });
    expect(run.result).toMatchObject({ outcome: 'ok', value: '2', imagesOmitted: 1 });
    expect(run.result.images.map((image) => [image.name, image.mimeType])).toEqual([
      ['figure-1.png', 'image/png'],
      ['figure-2.png', 'image/png'],
    ]);
    expect(pngSize(run.result.images[0]!.base64)).toEqual({ width: 400, height: 300 });
    expect(pngSize(run.result.images[1]!.base64)).toEqual({ width: 200, height: 100 });
    expect(run.result.loadedModules).toContain('matplotlib');
  });
});
