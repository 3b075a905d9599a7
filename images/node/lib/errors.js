'use strict';
// Turning what a cell threw into the result frame's `error`: name, message, and a traceback with
// only the user's frames (the runner's own frames, and Node's below them, are cut off).

const path = require('path');
const util = require('util');

const RUNNER_ROOT = path.dirname(__dirname) + path.sep;
const FRAME = /^\s+at /;
const CELL_FILENAME = '<cell>';

/** Maps `<cell>` positions to the TypeScript the cell was compiled from (sourcemap.js), if any. */
let cellMapper = null;

/** @param {import('./sourcemap').SourceMapper | null} mapper */
function mapCellPositions(mapper) {
  cellMapper = mapper;
}

function isRunnerFrame(line) {
  return line.includes(RUNNER_ROOT) || line.includes('node:vm:') || line.includes('codecell-bindings');
}

/**
 * Keeps the header (message, and for syntax errors V8's source line and caret) and the frames up
 * to the first one that belongs to the runner; then drops Node's own frames left at the bottom
 * (the timer or microtask machinery that called the user's callback).
 */
function cleanStack(stack) {
  const lines = stack.split('\n');
  const kept = [];
  for (const line of lines) {
    if (FRAME.test(line) && isRunnerFrame(line)) break;
    kept.push(line);
  }
  while (kept.length > 0 && FRAME.test(kept[kept.length - 1]) && /\(?node:internal\//.test(kept[kept.length - 1])) kept.pop();
  return kept.join('\n').replace(/\s+$/, '');
}

/**
 * Makes every stack trace in the process leave out the runner's frames, not only the traceback in
 * the result: a cell that prints an error, or keeps one for a later cell, shows its own frames only.
 * A cell may still install its own Error.prepareStackTrace; V8 then uses that one.
 */
function installStackFilter() {
  Error.prepareStackTrace = function prepareStackTrace(error, callSites) {
    let header;
    try {
      header = Error.prototype.toString.call(error);
    } catch {
      header = 'Error';
    }
    const frames = [];
    for (const site of callSites) {
      const file = site.getFileName() || '';
      if (file.startsWith(RUNNER_ROOT) || file === 'node:vm' || file === 'codecell-bindings') break;
      const frame = `${site}`;
      frames.push(`\n    at ${cellMapper === null ? frame : cellMapper.mapFrame(frame, CELL_FILENAME)}`);
    }
    while (frames.length > 0 && frames[frames.length - 1].includes('node:internal/')) frames.pop();
    return header + frames.join('');
  };
}

function safeString(read, fallback) {
  try {
    const value = read();
    return typeof value === 'string' ? value : fallback;
  } catch {
    return fallback;
  }
}

/**
 * @param {unknown} thrown anything a cell can throw
 * @param {'javascript' | 'typescript'} sourceLanguage
 * @returns {{ name: string, message: string, traceback: string }}
 */
function describeThrown(thrown, sourceLanguage) {
  if (thrown === null || (typeof thrown !== 'object' && typeof thrown !== 'function')) {
    const shown = util.inspect(thrown);
    return { name: 'Uncaught', message: shown, traceback: `Uncaught ${shown}` };
  }
  const name = safeString(() => thrown.name, 'Error').slice(0, 500);
  const message = safeString(() => thrown.message, safeString(() => util.inspect(thrown), ''));
  const stack = safeString(() => thrown.stack, null);
  let traceback = stack === null ? `${name}: ${message}` : cleanStack(stack);
  if (cellMapper !== null) traceback = cellMapper.mapExcerpt(traceback, CELL_FILENAME);
  if (sourceLanguage === 'typescript' && name === 'SyntaxError') {
    // The host compiled the TypeScript; V8 saw (and reports on) the JavaScript that came out.
    traceback += '\n(in the JavaScript compiled from the TypeScript cell)';
  }
  return { name, message, traceback };
}

module.exports = { CELL_FILENAME, describeThrown, cleanStack, installStackFilter, mapCellPositions };
