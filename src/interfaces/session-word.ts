/**
 * How a caller names its default session: leaving the session id out, sending "" (models often do
 * for an optional parameter), or the word "default", which the HTTP routes take in their path
 * (`/v1/sessions/default/files`). Session ids the server makes are never this word.
 */
export const DEFAULT_SESSION_WORD = 'default';

/** The session id a caller meant, or undefined for its default session. */
export function sessionIdFrom(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed.length === 0 || trimmed === DEFAULT_SESSION_WORD ? undefined : trimmed;
}
