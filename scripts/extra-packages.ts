/**
 * The admin's extra packages for the execution images (README, "Extra packages"): a JSON file that
 * names, per image, Debian packages, npm packages (node, `name@exact-version`) and a folder of pip
 * wheels (python). scripts/build-images.sh stages them into each image's build context as plain
 * lists that the Dockerfiles hand to apt-get, npm and pip as separate arguments, never through a
 * shell; every name is checked against a strict pattern here first.
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/** Debian policy's package names: lowercase letters, digits, `+`, `-`, `.`; two or more, alphanumeric first. */
const DEBIAN_NAME = /^[a-z0-9][a-z0-9+.-]+$/;
/** An npm name (optionally scoped) pinned to one exact semver version: no ranges, tags, URLs or paths. */
const NPM_SPEC = /^(@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*@\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;
/** A wheel's file name (PEP 427): name-version(-build)?-python-abi-platform.whl. */
const WHEEL_FILE = /^[A-Za-z0-9_.]+-[A-Za-z0-9_.!+]+(-\d[A-Za-z0-9_.]*)?-[A-Za-z0-9_.]+-[A-Za-z0-9_.]+-[A-Za-z0-9_.]+\.whl$/;

const debianList = z
  .array(z.string().regex(DEBIAN_NAME, 'not a Debian package name (lowercase letters, digits, "+", "-", ".")'))
  .default([]);

const ExtraPackagesSchema = z
  .object({
    python: z
      .object({
        debian: debianList,
        /** A folder of .whl files, relative to this file; every wheel in it is installed. */
        wheels: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    node: z
      .object({
        debian: debianList,
        npm: z
          .array(z.string().regex(NPM_SPEC, 'not an npm package pinned to an exact version (name@1.2.3)'))
          .default([]),
      })
      .strict()
      .optional(),
    bash: z.object({ debian: debianList }).strict().optional(),
  })
  .strict();

export type ExtraPackages = z.infer<typeof ExtraPackagesSchema>;
export type ImageName = keyof ExtraPackages;

/** What one image's build gets: the lists and the wheel files (absolute paths). */
export interface ImageExtras {
  debian: string[];
  npm: string[];
  wheels: string[];
}

export class ExtraPackagesError extends Error {
  constructor(file: string, detail: string) {
    super(`extra packages file ${file}: ${detail}`);
    this.name = 'ExtraPackagesError';
  }
}

/** Reads and checks the file; every problem is named with its place in the file. */
export function readExtraPackages(file: string): ExtraPackages {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ExtraPackagesError(file, err instanceof Error ? err.message : String(err));
  }
  const parsed = ExtraPackagesSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const at = issue.path.join('.');
      const value = issue.path.reduce<unknown>((node, key) => (node as Record<PropertyKey, unknown> | undefined)?.[key as PropertyKey], raw);
      return `${at || '(top level)'}: ${issue.message}${typeof value === 'string' ? ` (got ${JSON.stringify(value)})` : ''}`;
    });
    throw new ExtraPackagesError(file, problems.join('; '));
  }
  return parsed.data;
}

/** The extras of one image, with the wheel folder resolved against the file's own folder. */
export function extrasFor(file: string, config: ExtraPackages, image: string): ImageExtras {
  const extras: ImageExtras = { debian: [], npm: [], wheels: [] };
  if (image === 'python' && config.python) {
    extras.debian = config.python.debian;
    if (config.python.wheels !== undefined) extras.wheels = wheelFiles(file, path.resolve(path.dirname(file), config.python.wheels));
  } else if (image === 'node' && config.node) {
    extras.debian = config.node.debian;
    extras.npm = config.node.npm;
  } else if (image === 'bash' && config.bash) {
    extras.debian = config.bash.debian;
  }
  return extras;
}

function wheelFiles(file: string, folder: string): string[] {
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch (err) {
    throw new ExtraPackagesError(file, `python.wheels: cannot read the folder ${folder} (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
  const wheels = names.filter((name) => name.endsWith('.whl')).sort();
  for (const name of wheels) {
    if (!WHEEL_FILE.test(name)) throw new ExtraPackagesError(file, `python.wheels: ${JSON.stringify(name)} is not a wheel file name (name-version-python-abi-platform.whl)`);
    if (!statSync(path.join(folder, name)).isFile()) throw new ExtraPackagesError(file, `python.wheels: ${name} is not a regular file`);
  }
  if (wheels.length === 0) throw new ExtraPackagesError(file, `python.wheels: no .whl file in ${folder}`);
  return wheels.map((name) => path.join(folder, name));
}

/**
 * Writes what a Dockerfile reads into `dir` (the build context's extras/ folder): debian.txt and
 * npm.txt, one entry a line (empty when none), and wheels/ with copies of the wheel files.
 */
export function stageExtras(extras: ImageExtras, dir: string): void {
  mkdirSync(path.join(dir, 'wheels'), { recursive: true });
  writeFileSync(path.join(dir, 'debian.txt'), lines(extras.debian));
  writeFileSync(path.join(dir, 'npm.txt'), lines(extras.npm));
  for (const wheel of extras.wheels) copyFileSync(wheel, path.join(dir, 'wheels', path.basename(wheel)));
}

function lines(items: string[]): string {
  return items.map((item) => `${item}\n`).join('');
}
