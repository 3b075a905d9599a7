'use strict';
// Positions in the JavaScript the host compiled from a TypeScript cell, mapped back to the
// TypeScript the user wrote: the job line's `sourceMap` carries the TypeScript text and the
// `mappings` of TypeScript's source map (v3, one source). Hand-written because the image has no
// npm registry and Debian's node-source-map is asynchronous (WebAssembly); decoding VLQ is short.

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BASE64_VALUE = new Map([...BASE64].map((char, index) => [char, index]));
const LINE_BREAK = /\r\n|[\n\r\u2028\u2029]/;

/**
 * Decodes a v3 `mappings` string into, per generated line, its segments sorted by generated column:
 * [generatedColumn, originalLine, originalColumn] (all 0-based). Segments without a source are left
 * out. Throws on text that is not valid Base64 VLQ.
 */
function decodeMappings(mappings) {
  const lines = [];
  let segments = [];
  let generatedColumn = 0;
  let originalLine = 0;
  let originalColumn = 0;
  let sourceIndex = 0;
  let fields = [];
  let value = 0;
  let shift = 0;
  const endSegment = () => {
    if (shift !== 0) throw new Error('a VLQ number is cut off');
    if (fields.length === 0) return;
    if (fields.length !== 1 && fields.length !== 4 && fields.length !== 5) throw new Error('a segment has a wrong number of fields');
    generatedColumn += fields[0];
    if (fields.length >= 4) {
      sourceIndex += fields[1];
      originalLine += fields[2];
      originalColumn += fields[3];
      if (sourceIndex === 0 && originalLine >= 0 && originalColumn >= 0) segments.push([generatedColumn, originalLine, originalColumn]);
    }
    fields = [];
  };
  for (const char of mappings) {
    if (char === ',' || char === ';') {
      endSegment();
      if (char === ';') {
        segments.sort((a, b) => a[0] - b[0]);
        lines.push(segments);
        segments = [];
        generatedColumn = 0;
      }
      continue;
    }
    const digit = BASE64_VALUE.get(char);
    if (digit === undefined) throw new Error(`not a Base64 VLQ character: ${JSON.stringify(char)}`);
    value += (digit & 31) * 2 ** shift;
    shift += 5;
    if (digit & 32) {
      if (shift > 30) throw new Error('a VLQ number is too large');
      continue;
    }
    fields.push(value % 2 === 1 ? -(value - 1) / 2 : value / 2);
    value = 0;
    shift = 0;
  }
  endSegment();
  segments.sort((a, b) => a[0] - b[0]);
  lines.push(segments);
  return lines;
}

class SourceMapper {
  /** @param {{ source: string, mappings: string }} sourceMap */
  constructor(sourceMap) {
    this.lines = decodeMappings(sourceMap.mappings);
    this.sourceLines = sourceMap.source.split(LINE_BREAK);
    this.framePatterns = new Map();
  }

  /**
   * The TypeScript position of a JavaScript one (1-based line and column, as V8 shows them): the
   * nearest mapped position at or before it on its line, else the line's first one; null if the
   * line has none.
   */
  position(line, column) {
    const segments = this.lines[line - 1];
    if (segments === undefined || segments.length === 0) return null;
    // Binary search: the last segment at or before the column (one long line can have many).
    let low = 0;
    let high = segments.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (segments[middle][0] <= column - 1) low = middle;
      else high = middle - 1;
    }
    const found = segments[low];
    return { line: found[1] + 1, column: found[2] + 1 };
  }

  /** The TypeScript source line (1-based), or null past the end. */
  sourceLine(line) {
    const text = this.sourceLines[line - 1];
    return text === undefined ? null : text;
  }

  /** Rewrites every `<name>:LINE:COLUMN` in a stack frame line to the TypeScript position. */
  mapFrame(frameText, name) {
    let pattern = this.framePatterns.get(name);
    if (pattern === undefined) {
      pattern = new RegExp(`${escapeRegExp(name)}:(\\d+):(\\d+)`, 'g');
      this.framePatterns.set(name, pattern);
    }
    return frameText.replace(pattern, (whole, line, column) => {
      const mapped = this.position(Number(line), Number(column));
      return mapped === null ? whole : `${name}:${mapped.line}:${mapped.column}`;
    });
  }

  /**
   * Rewrites the source excerpt Node puts above an error thrown while a script ran
   * (`<name>:LINE\n<JavaScript line>\n   ^^^\n\n`) to quote the TypeScript line instead.
   * Returns the stack unchanged if it does not start with one for `name`.
   */
  mapExcerpt(stack, name) {
    const prefix = `${name}:`;
    if (!stack.startsWith(prefix)) return stack;
    const match = /^(\d+)\n([^\n]*)\n([ \t]*)(\^+)\n/.exec(stack.slice(prefix.length));
    if (match === null) return stack;
    const mapped = this.position(Number(match[1]), match[3].length + 1);
    const quoted = mapped === null ? null : this.sourceLine(mapped.line);
    if (quoted === null) return stack;
    const caretStart = Math.min(mapped.column - 1, quoted.length);
    const caretLength = Math.max(1, Math.min(match[4].length, quoted.length - caretStart));
    const indent = quoted.slice(0, caretStart).replace(/[^\t]/g, ' '); // Node keeps tabs so the caret lines up
    const excerpt = `${prefix}${mapped.line}\n${quoted}\n${indent}${'^'.repeat(caretLength)}\n`;
    return excerpt + stack.slice(prefix.length + match[0].length);
  }
}

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A mapper for a job's `sourceMap`, or null when there is none or it cannot be used. */
function mapperFor(sourceMap) {
  if (sourceMap === undefined || sourceMap === null) return null;
  try {
    return new SourceMapper(sourceMap);
  } catch {
    return null; // a bad map loses the TypeScript positions, not the run
  }
}

module.exports = { decodeMappings, SourceMapper, mapperFor };
