import path from 'node:path';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { composeDockerfile } from '../../../scripts/space/export.js';
import { systemLayers } from '../../../scripts/space/system-layers.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');

describe('systemLayers', () => {
  it('keeps the RUN instructions before the first COPY, with their comments and continuations', () => {
    const dockerfile = [
      'ARG BASE_IMAGE=debian:bookworm-slim',
      'FROM ${BASE_IMAGE}',
      '',
      '# first: one line',
      'RUN echo one',
      '',
      '# second: continued,',
      '# with a comment inside',
      'RUN apt-get install -y \\',
      '      a \\',
      '# not the end',
      '      b',
      'ENV X=1',
      'COPY extras/ /tmp/extras/',
      'RUN echo after-copy',
    ].join('\n');
    expect(systemLayers(dockerfile)).toBe(
      ['# first: one line', 'RUN echo one', '', '# second: continued,', '# with a comment inside', 'RUN apt-get install -y \\', '      a \\', '# not the end', '      b'].join('\n'),
    );
  });

  it('refuses a Dockerfile with no RUN before its first COPY, or one cut off mid-instruction', () => {
    expect(() => systemLayers('FROM x\nCOPY a b\nRUN late')).toThrow(/no RUN instruction/);
    expect(() => systemLayers('FROM x\nRUN a \\')).toThrow(/ends inside/);
  });
});

describe('the Space Dockerfile', () => {
  it('carries every package line of the three execution images, and no marker is left', async () => {
    const space = await composeDockerfile(ROOT);
    expect(space).not.toMatch(/@system-layers/);
    for (const language of ['python', 'node', 'bash']) {
      const own = readFileSync(path.join(ROOT, 'images', language, 'Dockerfile'), 'utf8');
      const layers = systemLayers(own);
      expect(space).toContain(layers);
    }
    expect(space).toContain('python3-pandas');
    expect(space).toContain('node-acorn');
    expect(space).toContain('bubblewrap python3-seccomp');
    expect(space).toMatch(/^USER 1000:1000$/m);
    expect(space).toMatch(/^\s*CODECELL_EXECUTOR=process$/m);
  });
});
