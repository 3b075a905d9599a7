/**
 * Keeps an MCP execution result (its text block and structuredContent together) under a size
 * budget (CODECELL_MAX_RESULT_CHARS), so one run cannot flood a model's context. The least
 * important parts go first, each cut named for the reader:
 *   the rich displays (tables, HTML: structuredContent only; the text says the same), last first →
 *   the file listing (down to a few; the rest counted per directory) → the not-carried list →
 *   the middle of the longest output (stdout, stderr, traceback, value) → the rest of both lists →
 *   the names of the folders the unlisted files are counted in → long image names, to their end.
 * Images are separate content blocks and bounded on their own (inline-images.ts).
 */
import { listFewer, withoutGroupNames } from '../../engine/changed-files-listing.js';
import type { CapturedText } from '../../domain/types.js';
import type { ExecutionResult } from '../../engine/types.js';

/** Kept back from the budget for the "cut to fit" lines themselves. */
const MARKER_RESERVE_CHARS = 600;
const FEW_FILES = 10;
const FEW_NOT_CARRIED = 10;
/** Output cuts never leave less than this of a text (head and tail together). */
const MIN_TEXT_CHARS = 200;

export interface FittedResult {
  readonly result: ExecutionResult;
  /** What was cut, in words; empty when the result fitted as it was. */
  readonly cuts: string[];
}

type Measure = (result: ExecutionResult, cuts: readonly string[]) => number;

export function fitResultBudget(result: ExecutionResult, budgetChars: number, measure: Measure): FittedResult {
  const cuts: string[] = [];
  let current = result;
  const limit = budgetChars - MARKER_RESERVE_CHARS;
  const over = (): number => measure(current, cuts) - budgetChars;
  const overLimit = (): number => measure(current, cuts) - limit;
  if (over() <= 0) return { result, cuts };

  if (current.displays.length > 0 && overLimit() > 0) {
    const shown = current.displays.length;
    // Fewest dropped (from the end) for the rest to fit, found by bisection; all when even none fits.
    let low = 0;
    let high = shown;
    while (low < high) {
      const middle = Math.ceil((low + high) / 2);
      if (measure({ ...current, displays: current.displays.slice(0, middle) }, [...cuts, 'x'.repeat(70)]) <= limit) low = middle;
      else high = middle - 1;
    }
    current = { ...current, displays: current.displays.slice(0, low) };
    cuts.push(`${shown - low} of ${shown} displays (tables, HTML) are left out; their text is in the output`);
  }
  if (current.files.length > FEW_FILES) {
    // As many as fit (found by bisection), but no fewer than a few before anything else is cut.
    const listed = current.files.length;
    let low = FEW_FILES;
    let high = listed - 1;
    while (low < high) {
      const middle = Math.ceil((low + high) / 2);
      if (measure(withFewerFiles(current, middle), [...cuts, 'x'.repeat(70)]) <= limit) low = middle;
      else high = middle - 1;
    }
    current = withFewerFiles(current, low);
    cuts.push(`${listed - low} changed files are counted per directory instead of listed`);
  }
  if (overLimit() > 0 && current.notCarried.length > FEW_NOT_CARRIED) {
    cuts.push(`${current.notCarried.length - FEW_NOT_CARRIED} of ${current.notCarried.length} not-carried values are not named`);
    current = { ...current, notCarried: current.notCarried.slice(0, FEW_NOT_CARRIED) };
  }
  const textCuts = new Map<TextPart, number>();
  for (let round = 0; round < 5 && overLimit() > 0; round += 1) {
    // Outputs appear in the text and in structuredContent: cutting n characters saves about 2n.
    const plan = evenCuts(current, Math.ceil(overLimit() / 2) + 50);
    if (plan.length === 0) break;
    for (const [part, chars] of plan) {
      current = cutPart(current, part, chars);
      textCuts.set(part, (textCuts.get(part) ?? 0) + chars);
    }
  }
  for (const [part, chars] of textCuts) cuts.push(`${chars.toLocaleString('en-US')} characters from the middle of ${part}`);
  // From here on the budget itself counts: the lines naming the cuts are in it.
  if (over() > 0 && current.files.length > 0) {
    cuts.push(`the remaining ${current.files.length} changed files are counted, not listed`);
    current = withFewerFiles(current, 0);
  }
  if (over() > 0 && current.notCarried.length > 0) {
    cuts.push(`the remaining ${current.notCarried.length} not-carried values are not named`);
    current = { ...current, notCarried: [] };
  }
  const named = [...current.unlistedFiles.folded, ...current.unlistedFiles.omitted].filter((group) => group.directory !== null);
  if (over() > 0 && named.length > 0) {
    cuts.push(`the ${named.length} folders of unlisted files are counted, not named`);
    current = { ...current, unlistedFiles: withoutGroupNames(current.unlistedFiles) };
  }
  if (over() > 0 && current.images.some((image) => image.name.length > SHORT_NAME_CHARS || (image.fullSize?.path?.length ?? 0) > SHORT_NAME_CHARS)) {
    cuts.push(`image names and paths are shortened to their last ${SHORT_NAME_CHARS} characters`);
    current = {
      ...current,
      images: current.images.map((image) => ({
        ...image,
        name: shortName(image.name),
        ...(image.fullSize === undefined ? {} : { fullSize: { ...image.fullSize, path: image.fullSize.path === null ? null : shortName(image.fullSize.path) } }),
      })),
    };
  }
  return { result: current, cuts };
}

/** An image's name (a path in /mnt/data, up to 1 KB) is named by its end, where the file name is. */
const SHORT_NAME_CHARS = 80;
const shortName = (name: string): string => (name.length > SHORT_NAME_CHARS ? `…${name.slice(-SHORT_NAME_CHARS)}` : name);

function withFewerFiles(result: ExecutionResult, keep: number): ExecutionResult {
  const fewer = listFewer({ listed: [...result.files], unlisted: result.unlistedFiles }, keep);
  return { ...result, files: fewer.listed, unlistedFiles: fewer.unlisted };
}

type TextPart = 'stdout' | 'stderr' | 'the traceback' | 'the value';
const TEXT_PARTS: readonly TextPart[] = ['stdout', 'stderr', 'the traceback', 'the value'];

function textLength(result: ExecutionResult, part: TextPart): number {
  switch (part) {
    case 'stdout':
      return result.stdout.text.length;
    case 'stderr':
      return result.stderr.text.length;
    case 'the traceback':
      return result.error?.traceback.length ?? 0;
    case 'the value':
      return result.value?.length ?? 0;
  }
}

/**
 * How much to cut from each text so that `needed` characters go in all: the longest are cut
 * first, down to one common length (never below MIN_TEXT_CHARS), so no single output loses all.
 */
function evenCuts(result: ExecutionResult, needed: number): [TextPart, number][] {
  const lengths = TEXT_PARTS.map((part) => [part, textLength(result, part)] as const).filter(([, length]) => length > MIN_TEXT_CHARS);
  if (lengths.length === 0) return [];
  const excessAt = (level: number): number => lengths.reduce((sum, [, length]) => sum + Math.max(0, length - level), 0);
  // The highest common length that frees enough, found by bisection over [MIN_TEXT_CHARS, longest].
  let low = MIN_TEXT_CHARS;
  let high = Math.max(...lengths.map(([, length]) => length));
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (excessAt(middle) >= needed) low = middle;
    else high = middle - 1;
  }
  return lengths.filter(([, length]) => length > low).map(([part, length]) => [part, length - low]);
}

function cutPart(result: ExecutionResult, part: TextPart, chars: number): ExecutionResult {
  switch (part) {
    case 'stdout':
      return { ...result, stdout: cutCaptured(result.stdout, chars) };
    case 'stderr':
      return { ...result, stderr: cutCaptured(result.stderr, chars) };
    case 'the traceback':
      return result.error === null ? result : { ...result, error: { ...result.error, traceback: cutMarked(result.error.traceback, chars) } };
    case 'the value':
      return result.value === null ? result : { ...result, value: cutMarked(result.value, chars) };
  }
}

/** Head and tail kept, as the output capture does; the count of cut characters grows. */
function cutCaptured(captured: CapturedText, chars: number): CapturedText {
  const { head, tail } = headAndTail(captured.text, chars);
  return { text: head + tail, truncatedChars: captured.truncatedChars + chars };
}

function cutMarked(text: string, chars: number): string {
  const { head, tail } = headAndTail(text, chars);
  return `${head}\n[${chars.toLocaleString('en-US')} characters cut to fit the result size limit]\n${tail}`;
}

function headAndTail(text: string, chars: number): { head: string; tail: string } {
  const keep = Math.max(0, text.length - chars);
  const headChars = Math.ceil(keep / 2);
  return { head: text.slice(0, headChars), tail: text.slice(text.length - (keep - headChars)) };
}
