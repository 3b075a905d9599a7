/**
 * Download links for a result's files when the server has no CODECELL_PUBLIC_URL: signed links
 * below the origin of the request being answered (http/request-origin.ts). Outside an HTTP
 * request (stdio) there is no origin and no link.
 */
import type { ExecutionResult } from '../engine/types.js';
import type { FileService } from '../files/file-service.js';
import { signedDownloadLinks } from './http/file-routes.js';
import { currentOrigin } from './http/request-context.js';

export type DownloadLink = (sessionId: string, relativePath: string) => string | undefined;

/** Links from the public URL, else from the origin of the request running now. */
export function requestDownloadLink(files: Pick<FileService, 'downloadUrl'>): DownloadLink {
  return (sessionId, relativePath) => files.downloadUrl(sessionId, relativePath, signedDownloadLinks(currentOrigin()));
}

/** `result` with a link on every listed file that has none (real files only, as the engine links them). */
export function withDownloadLinks(result: ExecutionResult, link: DownloadLink): ExecutionResult {
  if (!result.files.some((file) => file.kind === 'file' && file.downloadUrl === undefined)) return result;
  return {
    ...result,
    files: result.files.map((file) => {
      if (file.kind !== 'file' || file.downloadUrl !== undefined) return file;
      const downloadUrl = link(result.sessionId, file.path);
      return downloadUrl === undefined ? file : { ...file, downloadUrl };
    }),
  };
}
