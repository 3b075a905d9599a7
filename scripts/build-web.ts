/**
 * Builds the browser playground into dist/web: src/web/main.ts bundled by esbuild (CodeMirror and
 * the MCP SDK client included, nothing loaded from elsewhere at run time) plus the static files.
 * Layout: dist/web/index.html, dist/web/playground/{app.js, app.css, frame.html}.
 */
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

function projectRoot(): string {
  // dist/scripts/build-web.js or scripts/build-web.ts: the root is the first folder up with src/web.
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (path.basename(dir) === 'scripts' || path.basename(dir) === 'dist') dir = path.dirname(dir);
  return dir;
}

export async function buildWeb(root: string = projectRoot()): Promise<void> {
  const source = path.join(root, 'src', 'web');
  const out = path.join(root, 'dist', 'web');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(path.join(out, 'playground'), { recursive: true });
  await build({
    entryPoints: [path.join(source, 'main.ts')],
    bundle: true,
    format: 'esm',
    splitting: true, // language modes load on first use
    outdir: path.join(out, 'playground'),
    entryNames: 'app',
    chunkNames: 'chunk-[hash]',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  copyFileSync(path.join(source, 'static', 'index.html'), path.join(out, 'index.html'));
  copyFileSync(path.join(source, 'static', 'app.css'), path.join(out, 'playground', 'app.css'));
  copyFileSync(path.join(source, 'static', 'frame.html'), path.join(out, 'playground', 'frame.html'));
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildWeb();
}
