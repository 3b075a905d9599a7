/**
 * Paths that callers (models, REST clients) give for files in a session. Every such path is
 * relative to the session's /mnt/data and is checked here as text before it touches the disk;
 * the disk side (links, races) is confined-fs.ts's job.
 */
import { CodecellError } from '../errors.js';

/** Where a session's files appear inside the sandbox. */
export const SANDBOX_DATA_DIR = '/mnt/data';

export const MAX_COMPONENT_BYTES = 255;
export const MAX_PATH_BYTES = 1024;
export const MAX_PATH_DEPTH = 32;

// C0 controls, DEL and C1 controls: invisible in listings, and NUL truncates paths in C.
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;
const DRIVE_LETTER = /^[A-Za-z]:/;
// Lone UTF-16 surrogates cannot be written as UTF-8: the name on disk would not be this string.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Checks `input` and returns it as a normalized relative path ('/'-joined, NFC). Throws
 * INVALID_INPUT naming the problem. A leading '/mnt/data/' is accepted and dropped: models often
 * use the absolute path the sandbox shows them, and it names the same place.
 */
export function parseRelativePath(input: string): string {
  if (typeof input !== 'string' || input.length === 0) throw invalid(input, 'the path is empty');
  if (input.includes('\0')) throw invalid(input, 'the path contains a NUL byte');
  if (CONTROL_CHARACTER.test(input)) throw invalid(input, 'the path contains a control character');
  if (LONE_SURROGATE.test(input)) throw invalid(input, 'the path is not valid Unicode');
  if (input.includes('\\')) {
    throw invalid(input, "the path contains a backslash; separate folders with '/'");
  }

  let relative = input.normalize('NFC');
  const sandboxPrefix = `${SANDBOX_DATA_DIR}/`;
  if (relative.startsWith(sandboxPrefix)) relative = relative.slice(sandboxPrefix.length);
  if (relative.length === 0 || relative === SANDBOX_DATA_DIR) throw invalid(input, 'the path names /mnt/data itself, not a file in it');
  if (relative.startsWith('/') || DRIVE_LETTER.test(relative)) {
    throw invalid(input, `the path is absolute; give it relative to ${SANDBOX_DATA_DIR} (e.g. "data/report.csv")`);
  }

  const components = relative.split('/');
  if (components.length > MAX_PATH_DEPTH) {
    throw invalid(input, `the path is more than ${MAX_PATH_DEPTH} folders deep`);
  }
  for (const component of components) {
    if (component === '') throw invalid(input, "the path has an empty part ('//' or a trailing '/')");
    if (component === '.' || component === '..') {
      throw invalid(input, `the path contains '${component}'; it must stay inside ${SANDBOX_DATA_DIR}`);
    }
    if (Buffer.byteLength(component, 'utf8') > MAX_COMPONENT_BYTES) {
      throw invalid(input, `a name in the path is longer than ${MAX_COMPONENT_BYTES} bytes`);
    }
  }
  if (Buffer.byteLength(relative, 'utf8') > MAX_PATH_BYTES) {
    throw invalid(input, `the path is longer than ${MAX_PATH_BYTES} bytes`);
  }
  return relative;
}

/** The path's last component: the file name shown to people. */
export function baseName(relativePath: string): string {
  const slash = relativePath.lastIndexOf('/');
  return slash === -1 ? relativePath : relativePath.slice(slash + 1);
}

/** Every proper ancestor of a relative path, outermost first: 'a/b/c' → ['a', 'a/b']. */
export function ancestorsOf(relativePath: string): string[] {
  const components = relativePath.split('/');
  return components.slice(0, -1).map((_, index) => components.slice(0, index + 1).join('/'));
}

function invalid(input: unknown, problem: string): CodecellError {
  const text = typeof input === 'string' ? input : String(input);
  const shown = text.length > 120 ? `${text.slice(0, 120)}…` : text;
  return new CodecellError('INVALID_INPUT', `invalid file path ${JSON.stringify(shown)}: ${problem}`);
}
