/** Links added to a result's files when the server has no public URL of its own. */
import { describe, expect, it } from 'vitest';
import type { ExecutionResult } from '../../../src/engine/types.js';
import { withDownloadLinks } from '../../../src/interfaces/download-links.js';

const file = (path: string, kind: 'file' | 'symlink', downloadUrl?: string) => ({
  path,
  size: 1,
  mimeType: 'text/plain',
  change: 'created' as const,
  kind,
  ...(downloadUrl === undefined ? {} : { downloadUrl }),
});

describe('withDownloadLinks', () => {
  it('links real files without a link, leaves links and symlinks alone', () => {
    const result = {
      sessionId: 's1',
      files: [file('a.csv', 'file'), file('b.csv', 'file', 'https://public.example/files/signed/t'), file('c', 'symlink')],
    } as unknown as ExecutionResult;
    const linked = withDownloadLinks(result, (sessionId, path) => `http://127.0.0.1:7860/files/signed/${sessionId}-${path}`);
    expect(linked.files.map((entry) => entry.downloadUrl)).toEqual([
      'http://127.0.0.1:7860/files/signed/s1-a.csv',
      'https://public.example/files/signed/t',
      undefined,
    ]);
  });

  it('changes nothing when no link can be made', () => {
    const result = { sessionId: 's1', files: [file('a.csv', 'file')] } as unknown as ExecutionResult;
    expect(withDownloadLinks(result, () => undefined).files[0]).not.toHaveProperty('downloadUrl');
  });
});
