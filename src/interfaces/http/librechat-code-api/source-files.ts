/**
 * The files of the sessions one /exec request copies from, each session listed once per request
 * (a listing walks the whole session under its lock), and found by file id through a map instead
 * of hashing every listed path again for every files[] entry.
 */
import type { FileEntry, FileService } from '../../../files/file-service.js';
import type { SessionAccess } from './identity.js';
import { fileIdFor } from './ids.js';

export interface SourceListing {
  /** Real files only: links are listed by Codecell but never copied or served. */
  readonly files: readonly FileEntry[];
  readonly truncated: boolean;
  readonly byId: ReadonlyMap<string, FileEntry>;
}

export class SourceFiles {
  private readonly listings = new Map<string, Promise<SourceListing>>();

  constructor(private readonly files: Pick<FileService, 'list'>) {}

  /** The session's files, listed on first use. */
  list(source: SessionAccess): Promise<SourceListing> {
    const key = `${source.principal.id}\0${source.sessionId}`;
    let listing = this.listings.get(key);
    if (listing === undefined) {
      listing = this.load(source);
      this.listings.set(key, listing);
    }
    return listing;
  }

  /** The file with this id in the session, if it is there. */
  async find(source: SessionAccess, fileId: string): Promise<FileEntry | undefined> {
    return (await this.list(source)).byId.get(fileId);
  }

  private async load(source: SessionAccess): Promise<SourceListing> {
    const listing = await this.files.list(source.principal, source.sessionId);
    const files = listing.files.filter((file) => file.kind === 'file');
    return { files, truncated: listing.truncated, byId: new Map(files.map((file) => [fileIdFor(file.path), file])) };
  }
}
