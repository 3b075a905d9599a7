/** Bounded changed-file lists: folding VCS/cache folders, the listing cap, per-directory counts. */
import { describe, expect, it } from 'vitest';
import { boundChangedFiles, foldedDirectoryOf, listFewer, MAX_GROUPS, unlistedCount, withoutGroupNames } from '../../../src/engine/changed-files-listing.js';

const file = (path: string, size = 10) => ({ path, size });

describe('boundChangedFiles', () => {
  it('folds a git repository and Python caches into one group each, wherever they are', () => {
    const files = [
      file('report.csv', 100),
      ...Array.from({ length: 21 }, (_, i) => file(`.git/objects/${i}`, 4)),
      file('pkg/__pycache__/a.cpython-311.pyc', 7),
      file('pkg/__pycache__/b.cpython-311.pyc', 8),
      file('pkg/mod.py', 5),
    ];
    const { listed, unlisted } = boundChangedFiles(files, 50);
    expect(listed.map((f) => f.path)).toEqual(['report.csv', 'pkg/mod.py']);
    expect(unlisted.folded).toEqual([
      { directory: '.git/', label: 'git repository', directories: 1, files: 21, bytes: 84 },
      { directory: 'pkg/__pycache__/', label: 'Python bytecode cache', directories: 1, files: 2, bytes: 15 },
    ]);
    expect(unlisted.omitted).toEqual([]);
  });

  it('takes the outermost folded folder, and never a file that merely has such a name', () => {
    expect(foldedDirectoryOf('web/node_modules/a/node_modules/b/index.js')).toEqual({ directory: 'web/node_modules/', label: 'npm packages' });
    expect(foldedDirectoryOf('.cache')).toBeNull();
    expect(foldedDirectoryOf('notes/.git')).toBeNull();
    expect(foldedDirectoryOf('nb/.ipynb_checkpoints/x-checkpoint.ipynb')?.label).toBe('notebook checkpoints');
  });

  it('lists at most the limit, shallow files first, and counts the rest per top-level folder', () => {
    const files = [
      ...Array.from({ length: 3000 }, (_, i) => file(`out/part-${String(i).padStart(4, '0')}.txt`, 1000)),
      file('summary.md', 50),
    ];
    const { listed, unlisted } = boundChangedFiles(files, 50);
    expect(listed).toHaveLength(50);
    expect(listed.map((f) => f.path)).toContain('summary.md');
    expect(unlisted.omitted).toEqual([{ directory: 'out/', directories: 1, files: 2951, bytes: 2_951_000 }]);
    expect(listed.length + unlistedCount(unlisted)).toBe(3001);
  });

  it('caps the groups themselves: the smallest merge into one "other folders" group', () => {
    const files = Array.from({ length: 40 }, (_, dir) => Array.from({ length: dir + 1 }, (_, i) => file(`d${dir}/f${i}`, 1))).flat();
    const { listed, unlisted } = boundChangedFiles(files, 0);
    expect(listed).toEqual([]);
    expect(unlisted.omitted).toHaveLength(MAX_GROUPS);
    expect(unlisted.omitted[0]).toEqual({ directory: 'd39/', directories: 1, files: 40, bytes: 40 });
    const merged = unlisted.omitted.at(-1);
    expect(merged).toMatchObject({ directory: null, directories: 40 - (MAX_GROUPS - 1) });
    expect(unlistedCount(unlisted)).toBe(files.length);
  });

  it('merges many folded folders per label once they pass the cap', () => {
    const files = Array.from({ length: 30 }, (_, i) => file(`pkg${i}/__pycache__/m.pyc`, 2));
    const { unlisted } = boundChangedFiles(files, 50);
    expect(unlisted.folded).toHaveLength(MAX_GROUPS);
    expect(unlisted.folded.at(-1)).toEqual({ directory: null, label: 'Python bytecode cache', directories: 21, files: 21, bytes: 42 });
  });
});

describe('listFewer', () => {
  it('moves the listed files past `keep` into the per-folder counts', () => {
    const bounded = boundChangedFiles([file('a.txt', 1), file('b/c.txt', 2), file('b/d.txt', 3), ...Array.from({ length: 5 }, (_, i) => file(`b/x${i}`, 1))], 3);
    expect(bounded.unlisted.omitted).toEqual([{ directory: 'b/', directories: 1, files: 5, bytes: 5 }]);
    const fewer = listFewer(bounded, 1);
    expect(fewer.listed.map((f) => f.path)).toEqual(['a.txt']);
    expect(fewer.unlisted.omitted).toEqual([{ directory: 'b/', directories: 1, files: 7, bytes: 10 }]);
  });
});

describe('withoutGroupNames', () => {
  it('keeps every count but no folder name: folded groups per label, omitted ones in one', () => {
    const files = [
      file('a/.git/HEAD', 3),
      file('b/.git/HEAD', 4),
      file('c/__pycache__/m.pyc', 5),
      ...Array.from({ length: 4 }, (_, i) => file(`out${i % 2}/f${i}`, 10)),
    ];
    const bounded = boundChangedFiles(files, 0);
    const nameless = withoutGroupNames(bounded.unlisted);
    expect(nameless.folded).toEqual([
      { directory: null, label: 'git repository', directories: 2, files: 2, bytes: 7 },
      { directory: null, label: 'Python bytecode cache', directories: 1, files: 1, bytes: 5 },
    ]);
    expect(nameless.omitted).toEqual([{ directory: null, directories: 2, files: 4, bytes: 40 }]);
    expect(unlistedCount(nameless)).toBe(unlistedCount(bounded.unlisted));
  });
});
