/**
 * What runs inside a TypeScript worker thread: TypeScript's own `transpileModule` (pure JavaScript,
 * so a stack overflow is a catchable RangeError and memory is the worker's capped V8 heap).
 *
 * `workerMain` is started from its source text (`Function.prototype.toString`), so it must not use
 * anything from this module's scope: it gets everything through `require` and `workerData`.
 */
import type { MessagePort } from 'node:worker_threads';

export interface TranspileJob {
  readonly id: number;
  readonly code: string;
}

export type TranspileReply =
  | { readonly id: number; readonly javascript: string; readonly mappings: string }
  | { readonly id: number; readonly syntaxError: string }
  | { readonly id: number; readonly tooComplex: string };

export interface WorkerData {
  /** Absolute path of the `typescript` package's entry (resolved by the host, not by the worker's cwd). */
  readonly typescriptPath: string;
}

/** The worker's program. Types only: the body runs in a separate thread from its source text. */
export function workerMain(
  parentPort: MessagePort,
  data: WorkerData,
  load: (path: string) => typeof import('typescript'),
): void {
  const ts = load(data.typescriptPath);
  const options = {
    // The source map lets the node runner show TypeScript lines and columns in tracebacks.
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, sourceMap: true },
    fileName: 'cell.ts',
    reportDiagnostics: true,
  };
  parentPort.on('message', (job: TranspileJob) => {
    try {
      const output = ts.transpileModule(job.code, options);
      const problems = (output.diagnostics ?? []).filter((item) => item.category === ts.DiagnosticCategory.Error);
      if (problems.length === 0) {
        const javascript = output.outputText.replace(/\r?\n\/\/# sourceMappingURL=cell\.js\.map\s*$/, '');
        const map = JSON.parse(output.sourceMapText ?? '{}') as { mappings?: unknown };
        parentPort.postMessage({ id: job.id, javascript, mappings: typeof map.mappings === 'string' ? map.mappings : '' });
        return;
      }
      const lines = problems.slice(0, 20).map((item) => {
        const text = ts.flattenDiagnosticMessageText(item.messageText, '\n');
        if (item.file === undefined || item.start === undefined) return text;
        const at = item.file.getLineAndCharacterOfPosition(item.start);
        return `line ${at.line + 1}:${at.character + 1}: ${text}`;
      });
      parentPort.postMessage({ id: job.id, syntaxError: lines.join('\n') });
    } catch (error) {
      const overflow = error instanceof RangeError;
      parentPort.postMessage({
        id: job.id,
        tooComplex: overflow ? 'the program is nested too deeply to compile' : `the compiler failed: ${String(error).slice(0, 500)}`,
      });
    }
  });
  parentPort.postMessage({ ready: true });
}
