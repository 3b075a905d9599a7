'use strict';
// One execution: restore the session, run the cell, wait for it to be done, save the session,
// send the result frame, exit.
//
// "Done" follows `node script.js`: the cell's value is awaited when it is a promise, and then the
// event loop runs dry (timers fire, pending I/O completes). An uncaught exception or an unhandled
// rejection ends the cell at once, as it would end the script, and so does process.exit(). All
// of these still save the session and send the frame.

const util = require('util');
const vm = require('vm');
// Taken before any cell runs: a cell may replace globalThis.performance.
const { performance } = require('perf_hooks');
const { prepareCell } = require('./cell');
const { CELL_FILENAME, describeThrown, cleanStack, mapCellPositions } = require('./errors');
const protocol = require('./protocol');
const { saveState, restoreState, NotCarriedList } = require('./snapshot/state');
const { oomKills } = require('./oom');
const { mapperFor } = require('./sourcemap');

const MAX_VALUE_LENGTH = 10_000;

class CellRun {
  /**
   * @param {object} job the parsed job line (protocol.parseJob)
   * @param {object} env what warm-up prepared: scope, known (intrinsics, modules, provenance),
   *   userRequire, realExit, and the paths
   */
  constructor(job, env) {
    this.job = job;
    this.env = env;
    this.notCarried = new NotCarriedList();
    this.restoredNames = [];
    this.declared = [];
    this.completion = { state: 'pending', value: undefined, promise: null };
    this.asyncWrapped = false;
    this.error = undefined;
    this.exit = null;
    this.finishing = false;
    // Milliseconds of each phase, sent as the result's `timings` (PROTOCOL.md).
    this.timings = { restoreMs: 0, runMs: 0, saveMs: 0 };
    this.ranFrom = 0;
  }

  start() {
    this.installHooks();
    mapCellPositions(mapperFor(this.job.sourceMap));
    process.chdir(this.env.dataDir);
    const restoreFrom = performance.now();
    if (this.job.restore) this.restore();
    this.ranFrom = performance.now();
    this.timings.restoreMs = this.ranFrom - restoreFrom;

    const prepared = prepareCell(this.job.code);
    this.declared = prepared.declared;
    this.asyncWrapped = prepared.asyncWrapped;
    const { provenance } = this.env.known;
    provenance.addCellText(this.job.code);
    prepared.scripts.forEach((script, i) => provenance.addCellScript(script.source, prepared.asyncWrapped && i === prepared.scripts.length - 1));

    let completion;
    try {
      const scripts = prepared.scripts.map(
        ({ source, columnOffset }) => new vm.Script(source, { filename: CELL_FILENAME, columnOffset }),
      );
      for (const script of scripts) completion = script.runInThisContext({ displayErrors: true });
    } catch (err) {
      this.fail(err);
      return;
    }

    // An async cell's script evaluates to the promise of its body (resolving to the trailing
    // expression's value, if any); a plain cell whose trailing expression is a promise is awaited.
    if (this.asyncWrapped || (prepared.hasValue && util.types.isPromise(completion))) {
      this.completion.promise = completion;
      completion.then(
        (value) => this.settle(prepared.hasValue ? value : undefined),
        (err) => this.fail(err),
      );
    } else {
      this.settle(prepared.hasValue ? completion : undefined);
    }
  }

  installHooks() {
    process.on('beforeExit', () => this.finish());
    process.on('uncaughtException', (err) => this.fail(err));
    process.on('unhandledRejection', (reason) => this.fail(reason));
    const run = this;
    process.exit = function exit(code) {
      if (run.finishing) return;
      const exitCode = code === undefined ? Number(process.exitCode) || 0 : Number(code) | 0;
      const stackHolder = { name: 'ExitStatus', message: `process.exit(${exitCode}) was called` };
      Error.captureStackTrace(stackHolder, exit);
      run.exit = { code: exitCode, stack: stackHolder.stack };
      run.finish();
    };
  }

  restore() {
    const { scope, known, userRequire, stateIn } = this.env;
    this.restoredNames = restoreState({
      file: stateIn,
      requireModule: userRequire,
      provenance: known.provenance,
      privates: known.privates,
      binds: known.binds,
      notCarried: this.notCarried,
      define: (name, value) => scope.define(name, value),
    });
  }

  settle(value) {
    this.completion.state = 'settled';
    this.completion.value = value;
  }

  fail(err) {
    if (this.error === undefined) this.error = { thrown: err };
    this.finish();
  }

  /** Synchronous from start to end: process.exit() calls it and must not return. */
  finish() {
    if (this.finishing) return;
    this.finishing = true;
    let frame;
    try {
      frame = this.result();
    } catch (err) {
      frame = this.emergencyResult(err);
    }
    protocol.writeStderrEnd(this.job.nonce);
    protocol.writeFrame(this.job.nonce, frame);
    process.exitCode = 0;
    this.env.realExit(0);
  }

  result() {
    const { outcome, error, exitCode } = this.outcome();
    const value = outcome === 'ok' && this.completion.state === 'settled' ? formatValue(this.completion.value) : null;
    const saveFrom = performance.now();
    this.timings.runMs = saveFrom - this.ranFrom;
    const state = this.save();
    this.timings.saveMs = performance.now() - saveFrom;
    return {
      type: 'result',
      outcome,
      value,
      error,
      exitCode,
      images: [],
      imagesOmitted: 0,
      notCarried: this.notCarried.toJSON(),
      stateSaved: state.stateSaved,
      stateError: state.stateError,
      loadedModules: [],
      oomKills: oomKills(),
      timings: roundedTimings(this.timings),
    };
  }

  outcome() {
    const language = this.job.sourceLanguage;
    if (this.error !== undefined) {
      return { outcome: 'error', error: describeThrown(this.error.thrown, language), exitCode: this.exit ? this.exit.code : 1 };
    }
    if (this.completion.state === 'pending' && this.asyncWrapped && !this.exit) {
      const message = 'top-level await never finished: the promise it awaited was still pending when nothing was left to run';
      return { outcome: 'error', error: { name: 'Error', message, traceback: `Error: ${message}` }, exitCode: 13 };
    }
    if (this.completion.state === 'pending' && !this.exit) {
      // A promise value that never settled: show it as it is, like the REPL would.
      this.settle(this.completion.promise);
    }
    const exitCode = this.exit ? this.exit.code : Number(process.exitCode) || 0;
    if (exitCode === 0) return { outcome: 'ok', error: null, exitCode };
    const message = this.exit ? `process.exit(${exitCode}) was called` : `process.exitCode was set to ${exitCode}`;
    const traceback = this.exit ? cleanStack(this.exit.stack) : `ExitStatus: ${message}`;
    return { outcome: 'error', error: { name: 'ExitStatus', message, traceback }, exitCode };
  }

  save() {
    const { scope, known, outDir } = this.env;
    try {
      const names = [...new Set([...this.restoredNames, ...this.declared, ...scope.newGlobalNames()])];
      return saveState({ bindings: scope.read(names), known, outDir, notCarried: this.notCarried });
    } catch (err) {
      return { stateSaved: false, stateError: `saving the state failed: ${describeThrown(err).message}` };
    }
  }

  emergencyResult(err) {
    const message = `the runner failed while finishing the cell: ${describeThrown(err).message}`;
    return {
      type: 'result',
      outcome: 'error',
      value: null,
      error: { name: 'RunnerError', message, traceback: '' },
      exitCode: 1,
      images: [],
      imagesOmitted: 0,
      notCarried: [],
      stateSaved: false,
      stateError: message,
      loadedModules: [],
    };
  }
}

function roundedTimings(timings) {
  return Object.fromEntries(Object.entries(timings).map(([phase, ms]) => [phase, Math.round(Math.max(0, ms) * 10) / 10]));
}

function formatValue(value) {
  if (value === undefined) return null;
  let text;
  try {
    text = util.inspect(value, { depth: 4, maxArrayLength: 100, maxStringLength: MAX_VALUE_LENGTH, breakLength: 100 });
  } catch (err) {
    text = `[the value could not be shown: ${describeThrown(err).message}]`;
  }
  return text.length > MAX_VALUE_LENGTH ? `${text.slice(0, MAX_VALUE_LENGTH - 1)}…` : text;
}

module.exports = { CellRun };
