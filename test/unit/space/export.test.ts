import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exportSpace } from '../../../scripts/space/export.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');

/** The key: value lines of a README's front matter. */
function frontMatter(readme: string): Record<string, string> {
  const block = /^---\n([\s\S]*?)\n---\n/.exec(readme)?.[1] ?? '';
  return Object.fromEntries(block.split('\n').map((line) => {
    const at = line.indexOf(':');
    return [line.slice(0, at).trim(), line.slice(at + 1).trim()];
  }));
}

describe('npm run space -- DIR', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'codecell-space-export-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a Docker Space: front matter, Dockerfile, app/ and the LibreChat snippet', async () => {
    await exportSpace(ROOT, dir);
    const meta = frontMatter(readFileSync(path.join(dir, 'README.md'), 'utf8'));
    expect(meta).toMatchObject({ sdk: 'docker', app_port: '7860', title: 'Codecell' });
    expect(meta.short_description?.length).toBeGreaterThan(10);
    expect(meta.short_description?.length).toBeLessThanOrEqual(60); // Hugging Face's limit
    expect(readFileSync(path.join(dir, 'Dockerfile'), 'utf8')).toMatch(/^CMD \["\/opt\/codecell-server\/start\.sh"\]$/m);
    const snippet = readFileSync(path.join(dir, 'librechat.yaml'), 'utf8');
    expect(snippet).toContain('X-HF-Authorization: "Bearer ${HF_TOKEN}"');
    expect(snippet).toContain('Authorization: "Bearer ${CODECELL_API_KEY}"');
    for (const file of ['app/package-lock.json', 'app/src/cli.ts', 'app/start.sh', 'app/images/python/runner', 'app/images/node/lib/main.js', 'app/images/bash/runner', 'app/images/sandbox/launcher.py']) {
      expect(existsSync(path.join(dir, file)), file).toBe(true);
    }
    expect(existsSync(path.join(dir, 'app/images/node/packages/node_modules'))).toBe(false);
  });

  it('leaves the Space repository’s own files alone and replaces app/ as a whole', async () => {
    writeFileSync(path.join(dir, '.gitattributes'), '*.bin filter=lfs\n');
    await exportSpace(ROOT, dir);
    writeFileSync(path.join(dir, 'app', 'stale.txt'), 'from an older export');
    await exportSpace(ROOT, dir);
    expect(readFileSync(path.join(dir, '.gitattributes'), 'utf8')).toBe('*.bin filter=lfs\n');
    expect(existsSync(path.join(dir, 'app', 'stale.txt'))).toBe(false);
  });
});
