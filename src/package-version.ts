/**
 * Codecell's version as MCP clients see it in serverInfo: from the nearest package.json named
 * "codecell" above this module, which works from src/ (tests) and dist/src/ (installed) alike.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

const ManifestSchema = z.object({ name: z.string(), version: z.string() });

function findVersion(): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    let raw: string;
    try {
      raw = readFileSync(path.join(dir, 'package.json'), 'utf8');
    } catch {
      continue;
    }
    const manifest = ManifestSchema.safeParse(JSON.parse(raw));
    if (manifest.success && manifest.data.name === 'codecell') return manifest.data.version;
  }
  return '0.0.0';
}

export const CODECELL_VERSION: string = findVersion();
