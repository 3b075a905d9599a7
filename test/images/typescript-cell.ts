/** Compiles a TypeScript cell as the host's TypeScript worker does (src/engine/typescript-worker.ts). */
import ts from 'typescript';

/** The JavaScript the runner gets, and the job's `sourceMap` back to the TypeScript. */
export function compileTypeScript(source: string): { code: string; sourceMap: { source: string; mappings: string } } {
  const output = ts.transpileModule(source, {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, sourceMap: true },
    fileName: 'cell.ts',
  });
  const { mappings } = JSON.parse(output.sourceMapText ?? '{}') as { mappings: string };
  return { code: output.outputText.replace(/\n\/\/# sourceMappingURL=.*$/, ''), sourceMap: { source, mappings } };
}
