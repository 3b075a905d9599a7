/** Which image and pool each language runs in, and what a one-shot container gets beyond the others. */
import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../../src/config/settings.js';
import { runtimeFor } from '../../../src/engine/engine.js';
import { isOneShot, LANGUAGES, ONE_SHOT_LANGUAGES } from '../../../src/domain/types.js';
import { containerSpec, imageFor, ONE_SHOT_BUILD_DIR } from '../../../src/executor/docker/container-spec.js';
import { oneShotPoolFor, poolTarget, POOL_KEYS } from '../../../src/executor/pool-key.js';
import { JobLineSchema } from '../../../src/executor/runner-protocol.js';

const settings = loadSettings({}, { CODECELL_DATA_DIR: '/tmp/codecell-one-shot-test', CODECELL_IMAGE_PREFIX: 'cc-test', CODECELL_MEMORY_MB: '512', CODECELL_TMPFS_MB: '64' });
const slot = { dataDir: '/s/data', homeDir: '/s/home', inDir: '/s/in', outDir: '/s/out' };

describe('one-shot languages', () => {
  it('are the nine LibreChat offers beyond python, javascript, typescript and bash', () => {
    expect([...ONE_SHOT_LANGUAGES].sort()).toEqual(['c', 'cpp', 'd', 'fortran', 'go', 'java', 'php', 'r', 'rust']);
    expect(LANGUAGES.filter((language) => !isOneShot(language))).toEqual(['python', 'javascript', 'typescript', 'bash']);
  });

  it('share the gcc image for C, C++, Fortran and D, and have one image each otherwise', () => {
    const images = Object.fromEntries(ONE_SHOT_LANGUAGES.map((language) => [language, imageFor(settings, oneShotPoolFor(language))]));
    expect(images).toEqual({
      c: 'cc-test-gcc:latest',
      cpp: 'cc-test-gcc:latest',
      fortran: 'cc-test-gcc:latest',
      d: 'cc-test-gcc:latest',
      go: 'cc-test-go:latest',
      java: 'cc-test-java:latest',
      rust: 'cc-test-rust:latest',
      php: 'cc-test-php:latest',
      r: 'cc-test-r:latest',
    });
    expect(imageFor(settings, 'python-lean')).toBe('cc-test-python:latest');
  });

  it('keep no snapshot, and keep no warm container unless CODECELL_POOL_ONESHOT says so', () => {
    for (const language of ONE_SHOT_LANGUAGES) expect(runtimeFor(language)).toBeNull();
    expect(runtimeFor('typescript')).toBe('node');
    expect(poolTarget(settings, 'java')).toBe(0);
    expect(poolTarget(settings, 'bash')).toBe(1);
    const warm = loadSettings({}, { CODECELL_DATA_DIR: '/tmp/codecell-one-shot-test', CODECELL_POOL_ONESHOT: '2' });
    expect(POOL_KEYS.filter((pool) => poolTarget(warm, pool) === 2)).toEqual(['python', 'gcc', 'go', 'java', 'rust', 'php', 'r']);
  });

  it('get an exec tmpfs to build in, sized at least 256 MiB within the memory limit; other images do not', () => {
    const gcc = containerSpec(settings, 'instance', 'gcc', slot).HostConfig?.Tmpfs ?? {};
    expect(gcc[ONE_SHOT_BUILD_DIR]).toBe(`rw,exec,nosuid,nodev,size=${256 * 1024 * 1024},mode=1777`);
    expect(gcc['/tmp']).toContain('size=67108864');
    expect(gcc['/tmp']).not.toContain('exec');
    const small = loadSettings({}, { CODECELL_DATA_DIR: '/tmp/codecell-one-shot-test', CODECELL_MEMORY_MB: '128' });
    expect(containerSpec(small, 'instance', 'rust', slot).HostConfig?.Tmpfs?.[ONE_SHOT_BUILD_DIR]).toContain(`size=${128 * 1024 * 1024},`);
    expect(Object.keys(containerSpec(settings, 'instance', 'python', slot).HostConfig?.Tmpfs ?? {})).not.toContain(ONE_SHOT_BUILD_DIR);
  });

  it('travel to the runner by name in the job line', () => {
    const line = { v: 1, nonce: 'ab'.repeat(8), code: 'fn main() {}', restore: false, maxImages: 0, sourceLanguage: 'rust', args: ['x'] };
    expect(JobLineSchema.parse(line).sourceLanguage).toBe('rust');
    expect(JobLineSchema.safeParse({ ...line, sourceLanguage: 'cobol' }).success).toBe(false);
  });
});
