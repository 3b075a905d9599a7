/**
 * Python snapshots with blobs as an analyst uses them (images/PROTOCOL.md, "Snapshots"), real Docker:
 * a frame changed by the usual in-place pandas calls, one call after another, comes back equal to
 * the same calls made in one process; a run that changes restored (mapped) arrays in place and then
 * times out leaves the values of the last good run, and one that raises keeps what it changed (as a
 * notebook cell does).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecutionResult } from '../../src/engine/types.js';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;

beforeAll(async () => {
  t = await startTestEngine({ EXECUTION_TIMEOUT: '60' });
});

afterAll(async () => {
  await t?.close();
});

async function run(sessionId: string, code: string, timeoutMs?: number): Promise<ExecutionResult> {
  return t.engine.execute({ principal: t.principal, sessionId, language: 'python', code, timeoutMs });
}

async function ok(sessionId: string, code: string): Promise<string> {
  const result = await run(sessionId, code);
  expect(result.status, JSON.stringify([result.error, result.stderr, result.notice])).toBe('ok');
  expect(result.notCarried).toEqual([]);
  return result.stdout.text;
}

const newSession = async () => (await t.engine.createSession(t.principal)).id;

// The frame of both sides: 200,000 rows, so that each column block is a blob (over 1 MB).
const MAKE_FRAME = [
  'import numpy as np, pandas as pd',
  'rng = np.random.default_rng(7)',
  'n = 200_000',
  "df = pd.DataFrame({'a': rng.integers(-100, 100, n), 'b': rng.random(n), 'c': rng.random(n), 'k': rng.choice(list('xyz'), n)})",
].join('\n');

// One step per call; the last line prints a digest of the frame that both sides compare.
const STEPS = [
  "df['a'] += 1",
  "df.loc[0, 'a'] = 999",
  'df.drop(index=[1, 2, 3], inplace=True)',
  "df.iloc[::2, 1] = 0.0",
  "df.sort_values('c', inplace=True)",
  "df['k'] = df['k'].astype('category')",
  "df['t'] = pd.date_range('2024-01-01', periods=len(df), freq='min', tz='Europe/Berlin')",
  "df.set_index(['k', 't'], inplace=True)",
];
const DIGEST =
  "print(df.shape, list(df.index.names), str(df.index.levels[1].dtype), int(df['a'].sum()), round(float(df['b'].sum()), 6), round(float(df['c'].iloc[:1000].sum()), 6), df.index[0][0], int(pd.util.hash_pandas_object(df).sum() % 1_000_003))";

describe('python snapshots with blobs, used as an analyst does', () => {
  it('gives the same frame after in-place pandas calls made one per run as made in one process', async () => {
    const oneProcess = await newSession();
    const expected = await ok(oneProcess, [MAKE_FRAME, ...STEPS, DIGEST].join('\n'));
    expect(expected).toMatch(/^\(199997, 3\) \['k', 't'\] datetime64\[ns, Europe\/Berlin\]/);

    const stepwise = await newSession();
    await ok(stepwise, MAKE_FRAME);
    for (const step of STEPS) await ok(stepwise, step);
    expect(await ok(stepwise, DIGEST)).toBe(expected);
  });

  it('leaves the last good values when a run changes mapped arrays in place and times out; keeps them when it raises', async () => {
    const session = await newSession();
    await ok(session, 'import numpy as np\nbig = np.zeros(2_000_000)\nalso = big\nholder = {"x": big}\nother = np.arange(300_000.0)');
    // Restored from blobs now (mapped): one element changed, carried.
    await ok(session, 'big[12345] = 7.0');

    const timedOut = await run(session, 'big[:] = 9.0\nother[0] = -1.0\nimport time\ntime.sleep(600)', 3_000);
    expect(timedOut.status).toBe('timeout');
    expect(await ok(session, 'print(big.sum(), big[12345], other[0], also is big, holder["x"] is big)')).toBe('7.0 7.0 0.0 True True\n');

    const raised = await run(session, 'big[:] = 2.0\nother[1] = -1.0\nraise ValueError("after the change")');
    expect(raised.status).toBe('error');
    expect(await ok(session, 'print(big.sum(), other[1], also is big, holder["x"][5])')).toBe('4000000.0 -1.0 True 2.0\n');
  });
});
