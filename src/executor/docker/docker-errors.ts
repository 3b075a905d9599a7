/** What an error from the Docker API means, where the caller treats some answers as success. */

/** True when Docker answered 404: it does not know the container or image (e.g. already removed). */
export function isNotFound(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'statusCode' in error && error.statusCode === 404;
}
