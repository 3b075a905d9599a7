/** The notices of one run (each a sentence or a few), joined into the one text a caller sees. */
export function joinNotices(...notices: Array<string | null>): string | null {
  const present = notices.filter((notice): notice is string => notice !== null && notice.length > 0);
  return present.length > 0 ? present.join(' ') : null;
}
