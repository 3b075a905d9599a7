/** The admin's extra packages file (scripts/extra-packages.ts): what it accepts, what it refuses, what it stages. No Docker. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ExtraPackagesError, extrasFor, readExtraPackages, stageExtras } from '../../../scripts/extra-packages.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'codecell-extras-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function configFile(content: unknown): string {
  const file = path.join(dir, 'extra-packages.json');
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

describe('extra packages file', () => {
  it('gives each image its own lists, with the wheel folder read relative to the file', () => {
    mkdirSync(path.join(dir, 'wheels'));
    writeFileSync(path.join(dir, 'wheels', 'tiny_pkg-1.0.0-py3-none-any.whl'), 'PK');
    writeFileSync(path.join(dir, 'wheels', 'README.txt'), 'not a wheel, ignored');
    const file = configFile({
      python: { debian: ['python3-toolz'], wheels: 'wheels' },
      node: { debian: ['libc-bin'], npm: ['left-pad@1.3.0', '@scope/name.js@2.0.0-rc.1'] },
      bash: { debian: ['g++', 'libstdc++6'] },
    });
    const config = readExtraPackages(file);
    expect(extrasFor(file, config, 'python')).toEqual({
      debian: ['python3-toolz'],
      npm: [],
      wheels: [path.join(dir, 'wheels', 'tiny_pkg-1.0.0-py3-none-any.whl')],
    });
    expect(extrasFor(file, config, 'node')).toEqual({ debian: ['libc-bin'], npm: ['left-pad@1.3.0', '@scope/name.js@2.0.0-rc.1'], wheels: [] });
    expect(extrasFor(file, config, 'bash')).toEqual({ debian: ['g++', 'libstdc++6'], npm: [], wheels: [] });
  });

  it('stages one entry a line and copies the wheels', () => {
    const wheel = path.join(dir, 'w-1-py3-none-any.whl');
    writeFileSync(wheel, 'wheel bytes');
    const out = path.join(dir, 'extras');
    stageExtras({ debian: ['python3-six', 'sqlite3'], npm: ['lodash@4.17.21'], wheels: [wheel] }, out);
    expect(readFileSync(path.join(out, 'debian.txt'), 'utf8')).toBe('python3-six\nsqlite3\n');
    expect(readFileSync(path.join(out, 'npm.txt'), 'utf8')).toBe('lodash@4.17.21\n');
    expect(readdirSync(path.join(out, 'wheels'))).toEqual(['w-1-py3-none-any.whl']);
    expect(readFileSync(path.join(out, 'wheels', 'w-1-py3-none-any.whl'), 'utf8')).toBe('wheel bytes');
  });

  it.each([
    [{ python: { debian: ['python3-six; rm -rf /'] } }, 'python.debian.0', 'python3-six; rm -rf /'],
    [{ python: { debian: ['-oAPT::Get=1'] } }, 'python.debian.0', '-oAPT::Get=1'],
    [{ bash: { debian: ['Curl'] } }, 'bash.debian.0', 'Curl'],
    [{ node: { npm: ['lodash'] } }, 'node.npm.0', 'lodash'],
    [{ node: { npm: ['lodash@^4.17.0'] } }, 'node.npm.0', 'lodash@^4.17.0'],
    [{ node: { npm: ['lodash@latest'] } }, 'node.npm.0', 'lodash@latest'],
    [{ node: { npm: ['evil@git+https://example.com/x.git'] } }, 'node.npm.0', 'evil@git+https://example.com/x.git'],
    [{ node: { npm: ['../local@1.0.0'] } }, 'node.npm.0', '../local@1.0.0'],
  ])('refuses %j, naming the place and the value', (content, place, value) => {
    const file = configFile(content);
    expect(() => readExtraPackages(file)).toThrow(ExtraPackagesError);
    expect(() => readExtraPackages(file)).toThrow(new RegExp(`${place.replace(/\./g, '\\.')}: .*\\(got ${JSON.stringify(value).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\)`));
  });

  it('refuses unknown images and keys, and JSON that does not parse', () => {
    expect(() => readExtraPackages(configFile({ ruby: { debian: [] } }))).toThrow(/ruby/);
    expect(() => readExtraPackages(configFile({ python: { pip: ['pyarrow'] } }))).toThrow(/pip/);
    expect(() => readExtraPackages(configFile('{ "python": '))).toThrow(ExtraPackagesError);
  });

  it('refuses a wheel folder that is missing, empty, or holds a file that is not named like a wheel', () => {
    const file = configFile({ python: { wheels: 'wheels' } });
    const config = readExtraPackages(file);
    expect(() => extrasFor(file, config, 'python')).toThrow(/cannot read the folder/);
    mkdirSync(path.join(dir, 'wheels'));
    expect(() => extrasFor(file, config, 'python')).toThrow(/no \.whl file/);
    writeFileSync(path.join(dir, 'wheels', '$(touch x).whl'), 'PK');
    expect(() => extrasFor(file, config, 'python')).toThrow(/is not a wheel file name/);
  });
});
