/** What an error from the Docker API means, where the caller treats some answers as success. */

/** True when Docker answered 404: it does not know the container or image (e.g. already removed). */
export function isNotFound(error: unknown): boolean {
  return statusOf(error) === 404;
}

/** True when Docker answered 409: it is busy with the container (e.g. its removal is already in progress). */
export function isConflict(error: unknown): boolean {
  return statusOf(error) === 409;
}

function statusOf(error: unknown): unknown {
  return typeof error === 'object' && error !== null && 'statusCode' in error ? error.statusCode : undefined;
}
