/**
 * The admin's extra packages, end to end: scripts/build-images.sh bakes a Debian package, a local
 * wheel (made here, no PyPI) and an npm package into images of their own prefix, and cells use them.
 * The images share every layer before the extras with the normal ones, and keep their tags, so a
 * rerun finds them up to date.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { imageHarness } from './run-image.js';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');
const BASE_PREFIX = process.env.CODECELL_IMAGE_PREFIX ?? 'codecell';
const EXTRAS_PREFIX = `${BASE_PREFIX}-extras`;
const BUILD_TIMEOUT_MS = 900_000;

/** Writes a minimal wheel, byte for byte the same every time (fixed zip dates), with the image's own Python. */
const MAKE_WHEEL = `
import base64, hashlib, zipfile
files = {
    "codecell_tiny/__init__.py": "ANSWER = 42\\n",
    "codecell_tiny-1.0.0.dist-info/METADATA": "Metadata-Version: 2.1\\nName: codecell-tiny\\nVersion: 1.0.0\\n",
    "codecell_tiny-1.0.0.dist-info/WHEEL": "Wheel-Version: 1.0\\nGenerator: codecell-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
}
def digest(text):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
record = "".join(f"{name},{digest(text)},{len(text.encode())}\\n" for name, text in files.items())
files["codecell_tiny-1.0.0.dist-info/RECORD"] = record + "codecell_tiny-1.0.0.dist-info/RECORD,,\\n"
with zipfile.ZipFile("/out/codecell_tiny-1.0.0-py3-none-any.whl", "w") as wheel:
    for name, text in files.items():
        wheel.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), text)
`;

describe('extra packages baked in by scripts/build-images.sh', () => {
  const python = imageHarness('python', `${EXTRAS_PREFIX}-python:latest`);
  const node = imageHarness('node', `${EXTRAS_PREFIX}-node:latest`);

  let dir = '';

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'codecell-extra-packages-'));
    mkdirSync(path.join(dir, 'wheels'));
    await run('docker', ['run', '--rm', '--network', 'none', '--user', `${process.getuid?.() ?? 0}`,
      '-v', `${path.join(dir, 'wheels')}:/out`, '--entrypoint', 'python3', `${BASE_PREFIX}-python:latest`, '-c', MAKE_WHEEL]);
    const file = path.join(dir, 'extra-packages.json');
    writeFileSync(file, JSON.stringify({
      python: { debian: ['python3-toolz'], wheels: 'wheels' },
      node: { npm: ['left-pad@1.3.0'] },
    }));
    await run('bash', [path.join(ROOT, 'scripts/build-images.sh'), 'python', 'node'], {
      env: { ...process.env, CODECELL_IMAGE_PREFIX: EXTRAS_PREFIX, CODECELL_EXTRA_PACKAGES_FILE: file },
      timeout: BUILD_TIMEOUT_MS,
    });
    python.setUp();
    node.setUp();
  }, BUILD_TIMEOUT_MS);

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    python.tearDown();
    node.tearDown();
  });

  it('the python image has the Debian package and the wheel', async () => {
    const result = await new python.Session().run(
      'import toolz, codecell_tiny, importlib.metadata as md\n' +
        'print(toolz.frequencies("abca")["a"], codecell_tiny.ANSWER, md.version("codecell-tiny"))',
    );
    expect(result.result.error, result.stderr).toBeNull();
    expect(result.output).toBe('2 42 1.0.0\n');
  });

  it('the node image has the npm package next to the built-in ones', async () => {
    const result = await new node.Session().run(
      "import leftPad from 'left-pad';\nconsole.log(leftPad('7', 3, '0'), require('lodash').sum([1, 2]))",
    );
    expect(result.result.error, result.stderr).toBeNull();
    expect(result.output).toBe('007 3\n');
  });
});
