/**
 * Notebook habits through the real engine and Python image: one image for a figure saved to a file
 * and left open, display() and shell escapes in a session, and the package hint in the run's notice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecutionResult } from '../../src/engine/types.js';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;

beforeAll(async () => {
  t = await startTestEngine({ EXECUTION_TIMEOUT: '30' });
});

afterAll(async () => {
  await t?.close();
});

/** Runs in `sessionId`, or in a new session of its own. */
async function runPython(code: string, sessionId?: string): Promise<ExecutionResult> {
  const session = sessionId ?? (await t.engine.createSession(t.principal)).id;
  return t.engine.execute({ principal: t.principal, sessionId: session, language: 'python', code });
}

async function fileBytes(sessionId: string, path: string): Promise<Buffer> {
  return (await t.files.readHead(t.principal, sessionId, path, 10_000_000)).bytes;
}

describe('notebook habits through the engine', () => {
  it('returns one image, the saved file itself, for a figure saved with savefig and left open', async () => {
    const result = await runPython(
      [
        'import matplotlib.pyplot as plt',
        'import numpy as np',
        'x = np.linspace(0, 6, 50)',
        'plt.plot(x, np.sin(x))',
        'plt.title("sine")',
        'plt.savefig("sine.png")',
      ].join('\n'),
    );
    expect(result.status, JSON.stringify(result.error)).toBe('ok');
    expect(result.images.map((image) => image.name)).toEqual(['sine.png']);
    expect(result.imagesOmitted).toBe(0);
    expect(result.files.map((file) => file.path)).toEqual(['sine.png']);
    const saved = await fileBytes(result.sessionId, 'sine.png');
    expect(Buffer.from(result.images[0]!.base64, 'base64').equals(saved)).toBe(true);
    expect(result.images[0]).toMatchObject({ width: saved.readUInt32BE(16), height: saved.readUInt32BE(20) });
  });

  it('still shows a figure saved deep among more files than the result lists', async () => {
    const result = await runPython(
      [
        'import os',
        'import matplotlib.pyplot as plt',
        'os.makedirs("out/zz", exist_ok=True)',
        'for i in range(120):',
        '    open(f"out/part-{i:03}.txt", "w").write(str(i))',
        'plt.plot([1, 2, 3], [3, 1, 2])',
        'plt.savefig("out/zz/late.png")',
      ].join('\n'),
    );
    expect(result.status, JSON.stringify(result.error)).toBe('ok');
    expect(result.files.length).toBeLessThan(121); // the listing is bounded: not every file is named
    expect(result.images.map((image) => image.name)).toEqual(['out/zz/late.png']);
    const saved = await fileBytes(result.sessionId, 'out/zz/late.png');
    expect(Buffer.from(result.images[0]!.base64, 'base64').equals(saved)).toBe(true);
  });

  it('runs display(), %%writefile and !commands across runs of one session', async () => {
    const first = await runPython('%%writefile report.py\nimport sys\nprint("report for", sys.argv[1])\n');
    expect(first.status, JSON.stringify(first.error)).toBe('ok');
    expect(first.stdout.text).toBe('Writing report.py\n');
    const session = first.sessionId;

    const second = await runPython(
      [
        'import pandas as pd',
        'sales = pd.DataFrame({"region": ["north", "south"], "units": [120, 80]})',
        'display(sales)',
        '!python3 report.py {sales["units"].sum()}',
        'files = !ls',
        'print(files)',
      ].join('\n'),
      session,
    );
    expect(second.status, JSON.stringify(second.error)).toBe('ok');
    expect(second.stdout.text).toBe(
      '  region  units\n0  north    120\n1  south     80\nreport for 200\n' + "['report.py']\n",
    );
  });

  it('adds the package hint to the notice of a run that failed on a missing module', async () => {
    const result = await runPython('import pandas as pd\nimport statsmodels_not_here.api as sm');
    expect(result.status).toBe('error');
    expect(result.error?.name).toBe('ModuleNotFoundError');
    expect(result.notice).toContain('pip and conda are not available here: this sandbox has no network access');
    expect(result.notice).toContain("ask the admin to add 'statsmodels_not_here' to the image");

    const fine = await runPython('print("ok")');
    expect(fine.notice).toBeNull();
  });
});
