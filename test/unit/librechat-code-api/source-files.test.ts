/**
 * SourceFiles: the sessions one /exec copies from are listed once per request, however many
 * files[] entries name them, and a file id finds only a real file listed in that session. A real
 * FileService on a temp directory; no Docker.
 */
import { writeFile, symlink } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FileService } from '../../../src/files/file-service.js';
import { fileIdFor } from '../../../src/interfaces/http/librechat-code-api/ids.js';
import { SourceFiles } from '../../../src/interfaces/http/librechat-code-api/source-files.js';
import { filesFixture, type FilesFixture } from '../files/helpers.js';

let fixture: FilesFixture;

beforeEach(async () => {
  fixture = await filesFixture();
});

afterEach(async () => {
  await fixture.cleanup();
});

/** The real file service, counting its listings. */
function countingLists(files: FileService): { service: Pick<FileService, 'list'>; count: () => number } {
  let lists = 0;
  return {
    service: {
      list: (principal, sessionId) => {
        lists += 1;
        return files.list(principal, sessionId);
      },
    },
    count: () => lists,
  };
}

describe('SourceFiles', () => {
  it('lists each source session once, however many entries name it', async () => {
    const first = await fixture.aliceSession();
    const second = await fixture.aliceSession();
    for (let index = 0; index < 20; index += 1) await writeFile(path.join(first.dir, `f${index}.txt`), `${index}`);
    await writeFile(path.join(second.dir, 'other.txt'), 'other');
    const counting = countingLists(fixture.files);
    const sources = new SourceFiles(counting.service);
    const access = (sessionId: string) => ({ sessionId, principal: fixture.alice, writable: false, upload: true });

    for (let index = 0; index < 20; index += 1) {
      expect((await sources.find(access(first.id), fileIdFor(`f${index}.txt`)))?.path).toBe(`f${index}.txt`);
    }
    expect((await sources.find(access(second.id), fileIdFor('other.txt')))?.size).toBe(5);
    expect(counting.count()).toBe(2);
  });

  it('finds only real files of that session: not links, not another session’s file, not a made-up id', async () => {
    const session = await fixture.aliceSession();
    const other = await fixture.aliceSession();
    await writeFile(path.join(session.dir, 'real.txt'), 'real');
    await symlink('/etc/passwd', path.join(session.dir, 'link.txt'));
    await writeFile(path.join(other.dir, 'elsewhere.txt'), 'x');
    const sources = new SourceFiles(fixture.files);
    const access = { sessionId: session.id, principal: fixture.alice, writable: true, upload: false };

    expect((await sources.list(access)).files.map((file) => file.path)).toEqual(['real.txt']);
    expect(await sources.find(access, fileIdFor('link.txt'))).toBeUndefined();
    expect(await sources.find(access, fileIdFor('elsewhere.txt'))).toBeUndefined();
    expect(await sources.find(access, 'A'.repeat(21))).toBeUndefined();
  });
});
