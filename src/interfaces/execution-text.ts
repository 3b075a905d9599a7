/**
 * One execution result as plain text, for a model (MCP) or an admin (CLI). Only non-empty parts
 * appear, in the order a reader needs them: where it ran and how it ended, what it printed, what
 * it returned, what went wrong, what changed on disk, and what the next call will not have.
 */
import { formatBytes } from '../files/byte-size.js';
import type { CapturedText, FileChange } from '../domain/types.js';
import type { ExecutionError, ExecutionResult, FileGroup, UnlistedFiles } from '../engine/types.js';

const STATUS_WORDS: Record<ExecutionResult['status'], string> = {
  ok: 'ok',
  error: 'error',
  timeout: 'timed out',
  oom: 'out of memory',
  killed: 'killed',
};

/** A stream's text; a cut one already says where and how much was cut, in the text (output-capture.ts). */
function capturedSection(title: string, captured: CapturedText): string | null {
  if (captured.text.length === 0 && captured.truncatedChars === 0) return null;
  return `[${title}]\n${captured.text.replace(/\n$/, '')}`;
}

function describeFile(file: FileChange): string {
  const where = `/mnt/data/${file.path}`;
  if (file.kind !== 'file') return `- ${file.change} ${where} (${file.kind}; links are not served)`;
  const link = file.downloadUrl !== undefined ? ` — download: ${file.downloadUrl}` : '';
  return `- ${file.change} ${where} (${formatBytes(file.size)}, ${file.mimeType})${link}`;
}

const count = (n: number, noun: string, plural = `${noun}s`): string => `${n.toLocaleString('en-US')} ${n === 1 ? noun : plural}`;

function whereGroup(group: FileGroup): string {
  if (group.directory === null) return `in ${count(group.directories, 'other directory', 'other directories')}`;
  return group.directory === '' ? 'at the top of /mnt/data' : `in /mnt/data/${group.directory}`;
}

/** One line per folded or omitted group: "git repository .git/: 21 files (84 KiB)". */
export function describeUnlisted(unlisted: UnlistedFiles): string[] {
  const folded = unlisted.folded.map((group) =>
    group.directory === null
      ? `${group.label} folders ${whereGroup(group)}: ${count(group.files, 'file')} (${formatBytes(group.bytes)})`
      : `${group.label} /mnt/data/${group.directory}: ${count(group.files, 'file')} (${formatBytes(group.bytes)})`,
  );
  const omitted = unlisted.omitted.map(
    (group) => `+ ${count(group.files, 'more file')} ${whereGroup(group)} (${formatBytes(group.bytes)})`,
  );
  return [...folded, ...omitted];
}

function filesSection(result: ExecutionResult): string | null {
  const unlisted = describeUnlisted(result.unlistedFiles);
  if (result.files.length === 0 && unlisted.length === 0) return null;
  const lines = [...result.files.map(describeFile), ...unlisted.map((line) => `- ${line}`)];
  if (unlisted.length > 0) lines.push('(Not every file is listed here: a listing of the session\'s files shows them all, and code can read them.)');
  return `[files]\n${lines.join('\n')}`;
}

/**
 * An error as one block: the traceback when it already names the error ("Name: message" on lines of
 * its own: last in Python's, first in V8's stacks, after the source line and caret of an uncaught
 * throw), else that line first, then the traceback.
 */
export function describeError(error: ExecutionError): string {
  const headline = `${error.name}: ${error.message}`;
  const traceback = error.traceback.trimEnd();
  if (traceback.length === 0) return headline;
  return namesItself(traceback, headline) ? traceback : `${headline}\n${traceback}`;
}

/**
 * True when `headline` (which may span lines) stands in `traceback` on lines of its own, or the
 * traceback's last line is the start of it: Python's SyntaxError ends "SyntaxError: invalid syntax"
 * where its message adds "(<cell>, line 2)", which the traceback shows above.
 */
function namesItself(traceback: string, headline: string): boolean {
  for (let at = traceback.indexOf(headline); at !== -1; at = traceback.indexOf(headline, at + 1)) {
    const end = at + headline.length;
    if ((at === 0 || traceback[at - 1] === '\n') && (end === traceback.length || traceback[end] === '\n')) return true;
  }
  const lastLine = traceback.slice(traceback.lastIndexOf('\n') + 1);
  const name = headline.slice(0, headline.indexOf(': ') + 2);
  return name.length > 2 && lastLine.startsWith(name) && lastLine.length > name.length && headline.startsWith(`${lastLine} (`);
}

export function formatExecutionText(result: ExecutionResult): string {
  const seconds = (result.durationMs / 1000).toFixed(2);
  const exit = result.exitCode !== null && result.exitCode !== 0 ? `, exit code ${result.exitCode}` : '';
  const sections: (string | null)[] = [
    `Session ${result.sessionId} · ${result.language} · ${STATUS_WORDS[result.status]}${exit} · ${seconds} s`,
    capturedSection('stdout', result.stdout),
    capturedSection('stderr', result.stderr),
    result.value !== null ? `[value]\n${result.value}` : null,
    result.error !== null ? `[error]\n${describeError(result.error)}` : null,
    result.notice !== null ? `[notice]\n${result.notice}` : null,
    filesSection(result),
    result.notCarried.length > 0
      ? `[not carried over to the next call]\n${result.notCarried
          .map((value) => `- ${value.name} (${value.type}): ${value.reason}`)
          .join('\n')}`
      : null,
    imagesLine(result),
  ];
  return sections.filter((section): section is string => section !== null).join('\n\n');
}

function imagesLine(result: ExecutionResult): string | null {
  const shown = result.images.length;
  if (shown === 0 && result.imagesOmitted === 0) return null;
  const omitted = result.imagesOmitted > 0 ? ` ${result.imagesOmitted} more were left out (over the per-call limit, or too large); save figures to files in /mnt/data (plt.savefig) to keep them, and show fewer per call to see them.` : '';
  const downscaled = result.images.flatMap((image) => {
    if (image.fullSize === undefined) return [];
    const { width, height, bytes, path } = image.fullSize;
    const full =
      path === null
        ? 'the full-size image could not be kept: save it to a file in /mnt/data to get it in full'
        : `full size in /mnt/data/${path}`;
    return [`- ${image.name}: shown at ${image.width}×${image.height}, downscaled from ${width}×${height} (${formatBytes(bytes)}); ${full}`];
  });
  return [`[images]\n${shown} image${shown === 1 ? '' : 's'} attached.${omitted}`, ...downscaled].join('\n');
}
