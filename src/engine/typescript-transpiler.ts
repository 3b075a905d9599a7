/**
 * TypeScript → JavaScript for the node cell, done on the host under the same kinds of limits as a
 * cell: each transpile runs in a worker thread with a capped V8 heap, a time limit and its input
 * bounded by the engine's code limit; a worker that overruns is terminated and a fresh one starts
 * for the next caller. Its output never reaches the server's stdout/stderr (the log stays JSON).
 *
 * Why TypeScript's transpileModule in a worker_thread, not esbuild: esbuild's Go service cannot be
 * memory-capped from Node (RLIMIT_AS stops the Go runtime at start; its 1 GB goroutine-stack limit
 * is fixed), while TypeScript is plain JavaScript whose heap `resourceLimits` caps and whose stack
 * overflow is a RangeError (measurements in docs/security.md, "Work done on the host").
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../logger.js';
import { workerMain, type TranspileReply, type WorkerData } from './typescript-worker.js';

/** What maps positions in the compiled JavaScript back to the TypeScript (the job line's `sourceMap`). */
export interface TypeScriptSourceMap {
  /** The TypeScript as the user wrote it. */
  readonly source: string;
  /** The `mappings` of the v3 source map from the JavaScript to `source`. */
  readonly mappings: string;
}

export type TranspileOutcome =
  | { readonly javascript: string; readonly sourceMap?: TypeScriptSourceMap }
  | { readonly refused: { readonly name: string; readonly message: string } };

export interface TranspilerOptions {
  readonly logger: Logger;
  /** The worker's V8 old-generation heap in MiB; past it the worker is terminated. */
  readonly maxHeapMb?: number;
  /** Workers at most; more callers wait for one to be free. */
  readonly maxWorkers?: number;
}

export const DEFAULT_TRANSPILER_HEAP_MB = 256;
const STARTUP_TIMEOUT_MS = 60_000;
const MAX_LOGGED_OUTPUT_CHARS = 2_000;

export const SYNTAX_ERROR_NAME = 'TypeScriptSyntaxError';
export const LIMIT_ERROR_NAME = 'TypeScriptCompileLimit';

/** The pool of supervised workers: at most `maxWorkers`, started on demand, replaced when one fails. */
export class TypeScriptTranspiler {
  private readonly idle: TranspilerWorker[] = [];
  private readonly started = new Set<TranspilerWorker>();
  private readonly waiting: Array<() => void> = [];
  private live = 0;
  private closed = false;
  private readonly maxHeapMb: number;
  private readonly maxWorkers: number;
  private readonly typescriptPath = createRequire(import.meta.url).resolve('typescript');

  constructor(private readonly options: TranspilerOptions) {
    this.maxHeapMb = options.maxHeapMb ?? DEFAULT_TRANSPILER_HEAP_MB;
    this.maxWorkers = Math.max(1, options.maxWorkers ?? 1);
  }

  /** Transpiles `code`; a syntax error or an overrun limit is an outcome, not an exception. */
  async transpile(code: string, timeoutMs: number): Promise<TranspileOutcome> {
    const worker = await this.acquire();
    try {
      return await worker.transpile(code, timeoutMs);
    } finally {
      this.release(worker);
    }
  }

  /** Ends every worker; a transpile under way is answered as not compiled. */
  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.waiting.splice(0)) wake();
    this.idle.length = 0;
    await Promise.all([...this.started].map((worker) => worker.terminate()));
  }

  private async acquire(): Promise<TranspilerWorker> {
    for (;;) {
      if (this.closed) throw new Error('the TypeScript compiler is shut down');
      const ready = this.idle.pop();
      if (ready !== undefined) return ready;
      if (this.live < this.maxWorkers) {
        this.live += 1;
        try {
          const worker = await TranspilerWorker.start(this.typescriptPath, this.maxHeapMb, this.options.logger);
          this.started.add(worker);
          return worker;
        } catch (error) {
          this.live -= 1;
          this.wakeOne();
          throw error;
        }
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  private release(worker: TranspilerWorker): void {
    if (worker.usable && !this.closed) this.idle.push(worker);
    else {
      this.live -= 1;
      this.started.delete(worker);
      void worker.terminate();
    }
    this.wakeOne();
  }

  private wakeOne(): void {
    this.waiting.shift()?.();
  }
}

/** One worker thread: one job at a time; unusable after any failure (the pool replaces it). */
class TranspilerWorker {
  private nextId = 1;
  private pending: ((reply: TranspileReply | { failure: string }) => void) | null = null;
  private broken = false;

  private constructor(
    private readonly worker: Worker,
    private readonly maxHeapMb: number,
  ) {
    worker.on('message', (message: TranspileReply) => this.answer(message));
    worker.on('error', (error: Error & { code?: string }) => {
      this.broken = true;
      this.answer({
        failure:
          error.code === 'ERR_WORKER_OUT_OF_MEMORY'
            ? `compiling it needed more than ${this.maxHeapMb} MiB of memory`
            : `the compiler failed (${error.code ?? error.name})`,
      });
    });
    worker.on('exit', () => {
      this.broken = true;
      this.answer({ failure: 'the compiler stopped' });
    });
  }

  static async start(typescriptPath: string, maxHeapMb: number, logger: Logger): Promise<TranspilerWorker> {
    // Started from source text: the same code then runs from src/ (tests) and from dist/ (builds).
    const source = `const { parentPort, workerData } = require('node:worker_threads');\n(${workerMain.toString()})(parentPort, workerData, require);`;
    const workerData: WorkerData = { typescriptPath };
    const worker = new Worker(source, {
      eval: true,
      workerData,
      resourceLimits: { maxOldGenerationSizeMb: maxHeapMb, maxYoungGenerationSizeMb: 32, stackSizeMb: 4 },
      stdout: true,
      stderr: true,
      env: {},
    });
    for (const stream of [worker.stdout, worker.stderr]) {
      stream.setEncoding('utf8');
      stream.on('data', (text: string) => logger.warn({ output: text.slice(0, MAX_LOGGED_OUTPUT_CHARS) }, 'TypeScript worker wrote output'));
    }
    await new Promise<void>((resolve, reject) => {
      const fail = (error: Error) => {
        clearTimeout(timer);
        void worker.terminate();
        reject(error);
      };
      const timer = setTimeout(() => fail(new Error('the TypeScript compiler did not start')), STARTUP_TIMEOUT_MS);
      worker.once('message', () => {
        clearTimeout(timer);
        worker.off('error', fail);
        worker.off('exit', exited);
        resolve();
      });
      const exited = () => fail(new Error('the TypeScript compiler exited while starting'));
      worker.once('error', fail);
      worker.once('exit', exited);
    });
    worker.unref(); // an idle compiler never keeps the process alive; a caller's await does
    return new TranspilerWorker(worker, maxHeapMb);
  }

  get usable(): boolean {
    return !this.broken;
  }

  async transpile(code: string, timeoutMs: number): Promise<TranspileOutcome> {
    const id = this.nextId++;
    const reply = await new Promise<TranspileReply | { failure: string }>((resolve) => {
      if (this.broken) {
        resolve({ failure: 'the compiler stopped' });
        return;
      }
      const timer = setTimeout(() => {
        this.broken = true;
        this.pending = null;
        void this.terminate();
        resolve({ failure: `compiling it took longer than the time limit (${Math.round(timeoutMs / 1000)} s)` });
      }, timeoutMs);
      this.pending = (value) => {
        clearTimeout(timer);
        this.pending = null;
        resolve(value);
      };
      this.worker.postMessage({ id, code });
    });
    if ('javascript' in reply) return { javascript: reply.javascript, sourceMap: { source: code, mappings: reply.mappings } };
    if ('syntaxError' in reply) return { refused: { name: SYNTAX_ERROR_NAME, message: reply.syntaxError } };
    const why = 'tooComplex' in reply ? reply.tooComplex : reply.failure;
    return { refused: { name: LIMIT_ERROR_NAME, message: `The TypeScript was not compiled: ${why}.` } };
  }

  terminate(): Promise<number> {
    this.broken = true;
    return this.worker.terminate();
  }

  private answer(reply: TranspileReply | { failure: string }): void {
    this.pending?.(reply);
  }
}
