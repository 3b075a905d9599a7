/**
 * Renders a run: live chunks while it runs, then the final result. Everything from user code goes
 * in through textContent or attribute values (images as data: URLs); HTML output only ever enters
 * a sandboxed iframe, without scripts unless the user asks (see renderHtml).
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { OutputChunk } from './api.js';
import { cellText, type Cell } from './cell-text.js';

export interface TableDisplay {
  readonly type: 'table';
  readonly columns: readonly string[];
  readonly index: readonly string[] | null;
  /** Names of the index / column levels (older servers send neither). */
  readonly index_names?: readonly (string | null)[] | null;
  readonly column_names?: readonly (string | null)[] | null;
  readonly rows: readonly (readonly Cell[])[];
  readonly total_rows: number;
  readonly total_columns: number;
  readonly truncated: boolean;
  readonly stdout_span?: StdoutSpan;
}

export interface HtmlDisplay {
  readonly type: 'html';
  readonly html: string;
  readonly stdout_span?: StdoutSpan;
}

/** Where display() printed the display's text in stdout: [start, end) in JavaScript string indices; null when unknown. */
type StdoutSpan = readonly [number, number] | null;
type Display = TableDisplay | HtmlDisplay | { readonly type: string; readonly stdout_span?: StdoutSpan };

interface ExecutionOutput {
  readonly session_id?: string;
  readonly status?: string;
  readonly stdout?: string;
  readonly stderr?: string;
  readonly value?: string | null;
  readonly error?: { name: string; message: string; traceback: string } | null;
  readonly displays?: readonly Display[];
  readonly files?: readonly { path: string; size: number; download_url?: string | null }[];
  readonly duration_ms?: number;
  readonly notice?: string | null;
  readonly cut_to_fit?: readonly string[];
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className !== undefined) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * Live output keeps only its last characters: a run may stream for up to an hour, and rewriting an
 * ever longer text several times a second would freeze the page. The final result replaces it.
 */
export const LIVE_MAX_CHARS = 50_000;

/** Output of one run in progress: chunks appended in order (as text nodes), the streams told apart by class. */
export class LiveOutput {
  private last: { stream: string; node: HTMLPreElement } | undefined;
  private shownChars = 0;
  private cutNote: HTMLElement | undefined;

  constructor(private readonly root: HTMLElement) {
    root.replaceChildren();
    root.dataset.state = 'running';
  }

  append(chunk: OutputChunk): void {
    if (this.last?.stream !== chunk.stream) {
      const node = element('pre', `stream-${chunk.stream}`);
      node.dataset.stream = chunk.stream;
      this.root.append(node);
      this.last = { stream: chunk.stream, node };
    }
    this.last.node.append(chunk.text);
    this.shownChars += chunk.text.length;
    if (this.shownChars > LIVE_MAX_CHARS) this.dropOldest(this.shownChars - LIVE_MAX_CHARS);
  }

  /** Removes `excess` characters from the front, whole blocks first, and says so once. */
  private dropOldest(excess: number): void {
    let left = excess;
    while (left > 0) {
      const block = this.root.querySelector('pre');
      const text = block?.firstChild;
      if (block === null || !(text instanceof Text)) break;
      if (text.length <= left) {
        left -= text.length;
        text.remove();
        if (!block.hasChildNodes() && block !== this.last?.node) block.remove();
      } else {
        text.deleteData(0, left);
        left = 0;
      }
    }
    this.shownChars -= excess - left;
    if (this.cutNote === undefined) {
      this.cutNote = element('p', 'meta live-cut', `Showing the last ${LIVE_MAX_CHARS.toLocaleString('en-US')} characters while it runs; the result follows.`);
      this.root.prepend(this.cutNote);
    }
  }
}

/** A run that ended without a result (stopped, connection lost): the message goes after what was streamed, which stays. */
export function showError(root: HTMLElement, message: string): void {
  if (root.dataset.state !== 'running') root.replaceChildren();
  root.append(element('pre', 'traceback', message));
  root.dataset.state = 'failed';
}

/** Downloads a changed file with the key (for a file whose signed link is missing or points elsewhere). */
export type FileDownloader = (path: string) => void;

export function showResult(root: HTMLElement, result: CallToolResult, downloadFile?: FileDownloader): void {
  const output = (result.structuredContent ?? {}) as ExecutionOutput;
  const parts: HTMLElement[] = [];
  if (result.structuredContent === undefined) {
    // An error before the run (bad input, no such session) has text only.
    for (const block of result.content) if (block.type === 'text') parts.push(element('pre', result.isError ? 'traceback' : 'stdout', block.text));
  }
  const { stdoutParts, placed } = stdoutWithDisplays(output.stdout ?? '', output.displays ?? []);
  parts.push(...stdoutParts);
  if (output.stderr) parts.push(Object.assign(element('pre', 'stderr', output.stderr), { title: 'stderr' }));
  for (const display of output.displays ?? []) if (!placed.has(display)) parts.push(...renderDisplay(display));
  for (const block of result.content) {
    if (block.type === 'image') {
      const image = element('img');
      image.alt = 'plot';
      image.src = `data:${block.mimeType};base64,${block.data}`;
      parts.push(image);
    }
  }
  const hasTable = (output.displays ?? []).some((display) => display.type === 'table');
  if (output.value !== undefined && output.value !== null && !hasTable) parts.push(element('pre', 'value', output.value));
  if (output.error) parts.push(renderTraceback(output.error));
  if (output.notice) parts.push(element('p', 'meta', output.notice));
  // What the server left out (tables, HTML, text) so the result fits CODECELL_MAX_RESULT_CHARS.
  if (output.cut_to_fit?.length) parts.push(element('p', 'meta cut-to-fit', `Cut to fit the result size limit: ${output.cut_to_fit.join('; ')}`));
  if (output.status !== undefined) {
    const took = output.duration_ms === undefined ? '' : ` · ${(output.duration_ms / 1000).toFixed(2)} s`;
    const line = element('p', 'meta', `${output.status}${took}`);
    if (output.files?.length) {
      line.append(' · files changed: ');
      output.files.forEach((file, index) => {
        if (index > 0) line.append(', ');
        line.append(changedFileLink(file, downloadFile));
      });
    }
    parts.push(line);
  }
  root.replaceChildren(...parts);
  root.dataset.state = result.isError === true || output.status !== 'ok' ? 'failed' : 'done';
}

function renderDisplay(display: Display): HTMLElement[] {
  if (display.type === 'table') return [renderTable(display as TableDisplay)];
  if (display.type === 'html') return [renderHtml((display as HtmlDisplay).html)];
  return [];
}

/**
 * stdout with the text display() printed for a table or HTML replaced by the display itself, so it
 * is shown once, in its place. A span that does not fit (out of range, out of order, or its text
 * is not the display's) is ignored: that display comes after the output, its text stays.
 */
function stdoutWithDisplays(stdout: string, displays: readonly Display[]): { stdoutParts: HTMLElement[]; placed: Set<Display> } {
  const stdoutParts: HTMLElement[] = [];
  const placed = new Set<Display>();
  const text = (from: number, to: number): void => {
    if (to > from) stdoutParts.push(Object.assign(element('pre', 'stdout', stdout.slice(from, to)), { title: 'stdout' }));
  };
  let at = 0;
  for (const display of displays) {
    const span = display.stdout_span;
    if (!span || span[0] < at || span[1] <= span[0] || span[1] > stdout.length) continue;
    if (!spanShows(display, stdout.slice(span[0], span[1]))) continue;
    const shown = renderDisplay(display);
    if (shown.length === 0) continue;
    text(at, span[0]);
    stdoutParts.push(...shown);
    placed.add(display);
    at = span[1];
  }
  text(at, stdout.length);
  return { stdoutParts, placed };
}

/** The slice is the display's text: a table's text names its first column, HTML's is its source (or a repr naming nothing to check). */
function spanShows(display: Display, slice: string): boolean {
  if (display.type === 'table') {
    const first = (display as TableDisplay).columns[0];
    return first === undefined || slice.includes(first);
  }
  return display.type === 'html';
}

/** A changed file as a download: its signed link when it is this page's own (it holds no key), else a fetch with the key. */
function changedFileLink(file: { path: string; download_url?: string | null }, downloadFile?: FileDownloader): HTMLElement {
  const signed = ownSignedUrl(file.download_url);
  if (signed === undefined && downloadFile === undefined) return element('span', 'changed-file', file.path);
  const link = element('a', 'changed-file', file.path);
  link.title = `Download ${file.path}`;
  if (signed !== undefined) {
    link.href = signed;
    link.download = file.path.split('/').pop() ?? 'download';
  } else {
    link.href = '#';
    link.addEventListener('click', (event) => {
      event.preventDefault();
      downloadFile?.(file.path);
    });
  }
  return link;
}

function ownSignedUrl(candidate: string | null | undefined): string | undefined {
  if (typeof candidate !== 'string') return undefined;
  try {
    const url = new URL(candidate, window.location.href);
    return url.origin === window.location.origin && url.pathname.startsWith('/files/signed/') ? url.href : undefined;
  } catch {
    return undefined;
  }
}

function renderTraceback(error: { name: string; message: string; traceback: string }): HTMLElement {
  const block = element('pre', 'traceback');
  const text = error.traceback || `${error.name}: ${error.message}`;
  const lines = text.split('\n');
  lines.forEach((line, index) => {
    // The exception line (and "File …" frames) stand out; the rest stays plain text.
    const isErrorLine = line.startsWith(`${error.name}:`) || line.startsWith(error.name);
    const span = element('span', isErrorLine ? 'error-line' : /^\s*File "/.test(line) ? 'frame-line' : undefined, line);
    block.append(span);
    if (index < lines.length - 1) block.append('\n');
  });
  return block;
}

/** Level names as one label ("region", "x / y"); '' when none is named. */
function levelNames(names: readonly (string | null)[] | null | undefined): string {
  if (!names || names.every((name) => name === null)) return '';
  return names.map((name) => name ?? '').join(' / ');
}

function renderTable(display: TableDisplay): HTMLElement {
  const wrap = element('div', 'table-wrap');
  const table = element('table', 'frame');
  const thead = table.createTHead();
  const head = thead.insertRow();
  // As pandas prints them: the columns' level names in the corner, the index's in a row of their own.
  if (display.index !== null) head.append(element('th', 'level-names', levelNames(display.column_names)));
  for (const column of display.columns) head.append(element('th', undefined, column));
  const indexNames = levelNames(display.index_names);
  if (display.index !== null && indexNames !== '') {
    const namesRow = thead.insertRow();
    namesRow.className = 'index-names';
    namesRow.append(element('th', 'level-names', indexNames));
    for (let i = 0; i < display.columns.length; i++) namesRow.append(element('th', undefined, ''));
  }
  const body = table.createTBody();
  display.rows.forEach((row, rowIndex) => {
    const tr = body.insertRow();
    if (display.index !== null) tr.append(element('th', undefined, display.index[rowIndex] ?? ''));
    for (const cell of row) {
      const td = element('td', undefined, cellText(cell));
      if (typeof cell === 'number' && td.textContent !== String(cell)) td.title = String(cell);
      tr.append(td);
    }
  });
  wrap.append(table);
  const shown = `${display.rows.length} of ${display.total_rows} rows × ${display.columns.length} of ${display.total_columns} columns`;
  wrap.append(element('p', 'meta', display.truncated ? `${shown} (cut)` : shown));
  return wrap;
}

/**
 * User HTML: shown without scripts by default (srcdoc in a sandbox="" frame: no script runs, and the
 * page's own CSP, which the srcdoc inherits, allows no inline script either). Scripts could still send
 * packets anywhere over WebRTC, which no CSP governs in Chromium, so they run only when the user asks,
 * per output, in the scripted frame (renderScriptedHtml).
 */
function renderHtml(html: string): HTMLElement {
  const wrap = element('div', 'html-display');
  const frame = element('iframe', 'html-output');
  frame.setAttribute('sandbox', '');
  frame.setAttribute('referrerpolicy', 'no-referrer');
  frame.title = 'HTML output (scripts off)';
  frame.srcdoc = html;
  const runScripts = element('button', 'run-scripts', 'Run scripts in this output (they may send data to other hosts over WebRTC)');
  runScripts.type = 'button';
  runScripts.addEventListener('click', () => {
    frame.replaceWith(renderScriptedHtml(html));
    runScripts.remove();
  });
  wrap.append(runScripts, frame);
  return wrap;
}

/** User HTML with its scripts: a sandboxed frame (scripts yes, same origin never) whose own CSP blocks every fetch, load and navigation (not WebRTC). */
function renderScriptedHtml(html: string): HTMLIFrameElement {
  const frame = element('iframe', 'html-output');
  frame.setAttribute('sandbox', 'allow-scripts');
  frame.setAttribute('referrerpolicy', 'no-referrer');
  frame.title = 'HTML output (sandboxed, scripts on)';
  frame.dataset.scripts = 'on';
  const onReady = (event: MessageEvent): void => {
    if (event.source !== frame.contentWindow || (event.data as { type?: unknown } | null)?.type !== 'codecell-frame-ready') return;
    window.removeEventListener('message', onReady);
    // The frame's origin is opaque, so '*' is the only target that reaches it; it holds nothing of ours.
    frame.contentWindow?.postMessage({ type: 'codecell-html', html }, '*');
  };
  window.addEventListener('message', onReady);
  frame.src = '/playground/frame.html';
  return frame;
}
