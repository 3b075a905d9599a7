/**
 * The inputs of one /exec: files[] entries checked before any work, then copied into the run's
 * /mnt/data together with the files of the read-only source session that session_id named.
 */
import { z } from 'zod';
import { CodecellError } from '../../../errors.js';
import type { EngineApi } from '../../../engine/types.js';
import type { FileService, OpenedFile } from '../../../files/file-service.js';
import { parseRelativePath } from '../../../files/safe-path.js';
import { accessSession, callerAs, checkedIdentity, sharedIdentity, type Caller, type SessionAccess, type SessionDirectory } from './identity.js';
import { SourceFiles } from './source-files.js';

const optionalText = z.string().nullish();

export const FileRefSchema = z.object({
  id: optionalText,
  name: optionalText,
  /** Old shape. */
  session_id: optionalText,
  /** New shape. */
  storage_session_id: optionalText,
  resource_id: optionalText,
  kind: optionalText,
  version: z.union([z.string(), z.number()]).nullish(),
  /** Inline content instead of a stored file. */
  content: optionalText,
  encoding: z.enum(['utf8', 'utf-8', 'base64', 'hex']).nullish(),
});
export type FileRef = z.infer<typeof FileRefSchema>;

export function isNotFound(error: unknown): boolean {
  return error instanceof CodecellError && (error.code === 'SESSION_NOT_FOUND' || error.code === 'FILE_NOT_FOUND');
}

/** A files[] entry checked before any work: where it goes, and what fills it. */
export type Input =
  | { readonly target: string; readonly inline: Buffer }
  | { readonly target: string; readonly ref: FileRef; readonly storageParam: string; readonly fileId: string };

/** Every files[] entry, checked and decoded; INVALID_INPUT before anything is made or copied. */
export function checkedInputs(refs: readonly FileRef[]): Input[] {
  return refs.map((ref) => {
    const name = ref.name ?? '';
    if (name === '') throw new CodecellError('INVALID_INPUT', 'every files[] entry needs a name');
    const target = parseRelativePath(name);
    if (ref.content !== undefined && ref.content !== null) return { target, inline: decodeInline(ref, ref.content) };
    const storageParam = ref.storage_session_id ?? ref.session_id ?? '';
    const fileId = ref.id ?? '';
    if (storageParam === '' || fileId === '') {
      throw new CodecellError('INVALID_INPUT', `files[] entry "${name}" needs an id and a session_id (or storage_session_id)`);
    }
    return { target, ref, storageParam, fileId };
  });
}

function decodeInline(ref: FileRef, content: string): Buffer {
  const encoding = ref.encoding ?? 'utf8';
  if (encoding === 'base64') return Buffer.from(content, 'base64');
  if (encoding === 'hex') return Buffer.from(content, 'hex');
  return Buffer.from(content, 'utf8');
}

/** Who owns the storage session a files[] entry names. */
function storageCallerOf(caller: Caller, ref: FileRef): Caller {
  const kind = ref.kind ?? undefined;
  const resourceId = ref.resource_id ?? undefined;
  const version = ref.version ?? undefined;
  const shared = sharedIdentity({ kind, id: resourceId, version });
  if (shared !== null) return callerAs(caller, shared, true);
  // kind "user": the user is the caller; a caller that names no user takes the entry's.
  if (caller.identity === null && kind === 'user' && resourceId !== undefined && resourceId !== '') {
    return callerAs(caller, checkedIdentity(resourceId, 'resource_id'), false);
  }
  return caller;
}

function unavailable(name: string): string {
  return `codecell: input file ${JSON.stringify(name)} is no longer available (its session expired or the file was deleted), so it is not in /mnt/data; upload it again.`;
}

/**
 * Fills the run's /mnt/data: first every file of the read-only source session_id named (unless a
 * files[] entry puts something at the same name), then every files[] entry under its `name`. Inline
 * content is written; a stored file is copied from its session (opened without following links,
 * streamed, written through the file service with its limits). Each source session is listed once
 * per request. Entries whose session or file is gone are skipped with a note for stderr, so one
 * expired input does not fail the run.
 */
export interface StagingDeps {
  readonly engine: EngineApi;
  readonly files: FileService;
  readonly directory: SessionDirectory;
}

export async function stageInputs(
  deps: StagingDeps,
  caller: Caller,
  run: SessionAccess,
  source: SessionAccess | null,
  inputs: readonly Input[],
): Promise<string[]> {
  const { engine, files, directory } = deps;
  const sources = new SourceFiles(files);
  const notes: string[] = [];
  const copy = async (from: SessionAccess, path: string, target: string): Promise<boolean> => {
    if (from.sessionId === run.sessionId && path === target) return true;
    let opened: OpenedFile;
    try {
      opened = await files.openRead(from.principal, from.sessionId, path);
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
    try {
      await files.write(run.principal, run.sessionId, target, opened.stream);
    } finally {
      opened.stream.destroy();
    }
    return true;
  };

  if (source !== null) {
    const named = new Set(inputs.map((input) => input.target));
    const listing = await sources.list(source);
    for (const entry of listing.files) {
      if (named.has(entry.path)) continue;
      if (!(await copy(source, entry.path, entry.path))) notes.push(unavailable(entry.path));
    }
    if (listing.truncated) notes.push('codecell: the session named by session_id holds more files than one listing shows; not all of them were copied into /mnt/data.');
  }

  for (const input of inputs) {
    if ('inline' in input) {
      await files.write(run.principal, run.sessionId, input.target, input.inline);
      continue;
    }
    let stored: SessionAccess;
    let sourcePath: string;
    try {
      stored = await accessSession(engine, directory, storageCallerOf(caller, input.ref), input.storageParam);
      const entry = await sources.find(stored, input.fileId);
      if (entry === undefined) throw new CodecellError('FILE_NOT_FOUND', 'no such file');
      sourcePath = entry.path;
    } catch (error) {
      if (!isNotFound(error)) throw error;
      notes.push(unavailable(input.target));
      continue;
    }
    if (!(await copy(stored, sourcePath, input.target))) notes.push(unavailable(input.target));
  }
  return notes;
}
