/**
 * Where the HTTP interface serves files: the REST file routes (behind the API key) and the signed
 * download links (without it). The layers below hand out tokens and paths; only the interfaces
 * turn them into routes and URLs, from here.
 */

/** Where the app mounts the authenticated REST routes, below the public URL. */
export const REST_API_PREFIX = '/v1';
/** Where signed downloads are served, directly below the public URL (mounted without auth). */
export const SIGNED_DOWNLOAD_PATH = '/files/signed/';

/** The authenticated REST route for a session's file, for telling a model or user where to fetch it. */
export function restFilePath(sessionId: string, relativePath: string): string {
  const encoded = relativePath.split('/').map(encodeURIComponent).join('/');
  return `${REST_API_PREFIX}/sessions/${encodeURIComponent(sessionId)}/files/${encoded}`;
}

/**
 * Turns a download token into its URL below `publicUrl` (CODECELL_PUBLIC_URL, or the origin a
 * request was sent to); undefined without one (no links).
 */
export function signedDownloadLinks(publicUrl: string | undefined): ((token: string) => string) | undefined {
  if (publicUrl === undefined) return undefined;
  const base = publicUrl.replace(/\/+$/, '');
  return (token) => `${base}${SIGNED_DOWNLOAD_PATH}${token}`;
}
