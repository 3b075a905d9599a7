/**
 * `npm run space -- DIR`: writes a ready-to-push Hugging Face Space into DIR (a clone of the Space's
 * git repository, or a new folder): README.md with the Space's front matter, the Dockerfile, the
 * app/ it builds from, and librechat.yaml, a snippet for LibreChat. DIR's other files (.git, your
 * own) are left alone; app/ is replaced as a whole.
 */
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { systemLayers } from './system-layers.js';

const LANGUAGES = ['python', 'node', 'bash'] as const;
const LAYERS_MARKER = /^# @system-layers (\w+)$/gm;

/** What app/ holds: the server's sources and what the runners need, each copied as is. */
const APP_PATHS = [
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'src',
  'scripts',
  'images/python/runner',
  'images/python/codecell_runner',
  'images/python/matplotlib',
  'images/node/runner',
  'images/node/lib',
  'images/node/packages/package.json',
  'images/node/packages/package-lock.json',
  'images/bash/runner',
  'images/sandbox/launcher.py',
  'images/sandbox/codecell_slot_fds.py',
];
const SKIPPED = new Set(['node_modules', '__pycache__']);

/** The Space's Dockerfile: the template with each execution image's system layers put in. */
export async function composeDockerfile(root: string): Promise<string> {
  const template = await readFile(path.join(root, 'scripts/space/Dockerfile.template'), 'utf8');
  const layers = new Map<string, string>();
  for (const language of LANGUAGES) {
    const dockerfile = await readFile(path.join(root, 'images', language, 'Dockerfile'), 'utf8');
    layers.set(language, `# From images/${language}/Dockerfile, its system layers as written there:\n${systemLayers(dockerfile)}`);
  }
  return template.replace(LAYERS_MARKER, (_marker, language: string) => {
    const text = layers.get(language);
    if (text === undefined) throw new Error(`scripts/space/Dockerfile.template names an unknown image: ${language}`);
    return text;
  });
}

export async function exportSpace(root: string, dir: string): Promise<void> {
  const missing = APP_PATHS.filter((entry) => !existsSync(path.join(root, entry)));
  if (missing.length > 0) throw new Error(`the Space needs these files of the repository, which are missing: ${missing.join(', ')}`);
  const target = path.resolve(dir);
  await mkdir(target, { recursive: true });
  const app = path.join(target, 'app');
  await rm(app, { recursive: true, force: true });
  for (const entry of APP_PATHS) {
    await cp(path.join(root, entry), path.join(app, entry), {
      recursive: true,
      filter: (source) => !SKIPPED.has(path.basename(source)) && !source.endsWith('.pyc'),
    });
  }
  await cp(path.join(root, 'scripts/space/start.sh'), path.join(app, 'start.sh'));
  await writeFile(path.join(target, 'Dockerfile'), await composeDockerfile(root));
  for (const name of ['README.md', 'librechat.yaml', '.dockerignore']) {
    await cp(path.join(root, 'scripts/space', name), path.join(target, name));
  }
}

/** The repository's root: the nearest folder above this file with a package.json (source or dist/). */
export function repositoryRoot(): string {
  let dir = import.meta.dirname;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('not inside the Codecell repository');
    dir = parent;
  }
  return dir;
}

async function main(argv: readonly string[]): Promise<void> {
  const [dir, ...rest] = argv;
  if (dir === undefined || rest.length > 0 || dir.startsWith('-')) {
    process.stderr.write('usage: npm run space -- DIR   (writes a Hugging Face Space into DIR)\n');
    process.exitCode = 2;
    return;
  }
  await exportSpace(repositoryRoot(), dir);
  process.stdout.write(`Space written to ${path.resolve(dir)}: commit and push it to the Space's repository (README.md, "Hugging Face Space").\n`);
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === import.meta.filename) {
  await main(process.argv.slice(2));
}
