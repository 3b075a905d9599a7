'use strict';
// The runner's side of images/PROTOCOL.md: frames on fd 1 and the single job line on fd 0.
// Everything here is synchronous on purpose: the job is read before any user code exists, and the
// result frame may have to be written from inside process.exit(), where nothing async can run.

const fs = require('fs');

const FRAME_START = '\x1e';
const NONCE_END = '\x1f';
const READY_NONCE = 'ready';
const NONCE_PATTERN = /^[0-9a-f]{16,64}$/;

const pause = new Int32Array(new SharedArrayBuffer(4));
function sleepMs(ms) {
  Atomics.wait(pause, 0, 0, ms);
}

/** Writes all of `text` to `fd`, riding out EAGAIN if the descriptor happens to be non-blocking. */
function writeAll(fd, text) {
  const bytes = Buffer.from(text, 'utf8');
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += fs.writeSync(fd, bytes, offset, bytes.length - offset);
    } catch (err) {
      if (err.code !== 'EAGAIN') throw err;
      sleepMs(2);
    }
  }
}

/** A frame is RS + nonce + US + one line of JSON + LF. JSON.stringify escapes RS/US inside it. */
function writeFrame(nonce, frame) {
  writeAll(1, FRAME_START + nonce + NONCE_END + JSON.stringify(frame) + '\n');
}

/**
 * Marks the end of stderr. Docker forwards stdout and stderr independently, so the host waits for
 * this marker before it takes the result frame as final: no stderr written before it is lost.
 */
function writeStderrEnd(nonce) {
  writeAll(2, FRAME_START + nonce + NONCE_END + '{"type":"stderr-end"}\n');
}

/**
 * Blocks until the host sends the job line. The container may sit in the warm pool for a long time
 * before that, which is fine: there is nothing else for the process to do meanwhile.
 */
function readJobLine() {
  const chunks = [];
  const chunk = Buffer.allocUnsafe(1 << 16);
  for (;;) {
    let n;
    try {
      n = fs.readSync(0, chunk, 0, chunk.length, null);
    } catch (err) {
      if (err.code === 'EAGAIN') {
        sleepMs(5);
        continue;
      }
      throw err;
    }
    if (n === 0) break;
    const newline = chunk.subarray(0, n).indexOf(10);
    if (newline >= 0) {
      chunks.push(Buffer.from(chunk.subarray(0, newline)));
      break;
    }
    chunks.push(Buffer.from(chunk.subarray(0, n)));
  }
  const line = Buffer.concat(chunks).toString('utf8');
  if (line.trim() === '') throw new Error('stdin closed before a job line arrived');
  return parseJob(line);
}

function parseJob(line) {
  const job = JSON.parse(line);
  if (job === null || typeof job !== 'object') throw new Error('the job line is not a JSON object');
  if (job.v !== 1) throw new Error(`unsupported job version ${JSON.stringify(job.v)}`);
  if (typeof job.nonce !== 'string' || !NONCE_PATTERN.test(job.nonce)) throw new Error('the job has no valid nonce');
  if (typeof job.code !== 'string') throw new Error('the job has no code');
  const args = job.args === undefined ? [] : job.args; // hosts before args was in the protocol send none
  if (!Array.isArray(args) || !args.every((arg) => typeof arg === 'string')) throw new Error('the job args must be a list of strings');
  return {
    nonce: job.nonce,
    code: job.code,
    restore: job.restore === true,
    sourceLanguage: job.sourceLanguage === 'typescript' ? 'typescript' : 'javascript',
    args,
    sourceMap: usableSourceMap(job.sourceMap),
  };
}

/** The optional `sourceMap` (TypeScript cells); one that is not well-formed is left out, not fatal. */
function usableSourceMap(sourceMap) {
  if (sourceMap === null || typeof sourceMap !== 'object') return undefined;
  if (typeof sourceMap.source !== 'string' || typeof sourceMap.mappings !== 'string') return undefined;
  return { source: sourceMap.source, mappings: sourceMap.mappings };
}

/**
 * Points fd 0 at /dev/null so user code (and its subprocesses) see an empty stdin instead of the
 * host's pipe. open() returns the lowest free descriptor, so closing 0 first makes /dev/null fd 0;
 * nothing else in the process opens files in between. If that ever fails, fd 0 simply stays closed,
 * which still keeps user code away from the host's pipe.
 */
function detachStdin() {
  fs.closeSync(0);
  const fd = fs.openSync('/dev/null', 'r');
  if (fd !== 0) fs.closeSync(fd);
}

module.exports = { READY_NONCE, writeFrame, writeStderrEnd, readJobLine, parseJob, detachStdin };
