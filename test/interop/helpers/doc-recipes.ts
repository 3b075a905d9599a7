/**
 * The copy-paste recipes of docs/librechat-code-api.md, read from the document itself, so the tier
 * runs with exactly what a reader pastes: every `NAME=value` in a recipe's ```sh blocks and inline
 * code, split into Codecell's environment and LibreChat's .env (LIBRECHAT_* and CODEAPI_* names).
 * Placeholders are filled from a table; one the table does not know fails the tier, so a changed
 * recipe cannot silently stop being tested.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export type RecipeNumber = 1 | 2 | 3;

export interface DocRecipe {
  /** Codecell's environment (HOST, CODECELL_*). */
  codecell: Record<string, string>;
  /** LibreChat's .env, including the stateful base URL from "Stateful mode". */
  libreChat: Record<string, string>;
}

const DOC = path.resolve('docs/librechat-code-api.md');

/** The text of the `### <heading…>` section, up to the next heading of level 2 or 3. */
function section(doc: string, headingStart: string): string {
  const start = doc.split('\n').findIndex((line) => line.startsWith(`### ${headingStart}`));
  if (start < 0) throw new Error(`docs/librechat-code-api.md has no section "### ${headingStart}"`);
  const lines = doc.split('\n').slice(start + 1);
  const end = lines.findIndex((line) => /^#{2,3} /.test(line));
  return lines.slice(0, end < 0 ? undefined : end).join('\n');
}

/** `NAME=value` pairs in ```sh blocks (comment lines and trailing comments dropped) and in inline code spans. */
function assignments(text: string): Array<[string, string]> {
  const found: Array<[string, string]> = [];
  const line = /^([A-Z][A-Z0-9_]*)=(.+)$/;
  const word = /^([A-Z][A-Z0-9_]*)=(\S+)$/;
  for (const block of text.matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const blockLine of (block[1] ?? '').split('\n')) {
      const code = blockLine.replace(/\s+#.*$/, '').trim();
      if (code === '' || code.startsWith('#')) continue;
      const match = line.exec(code);
      if (match) found.push([match[1] ?? '', match[2] ?? '']);
    }
  }
  const prose = text.replace(/```[\s\S]*?```/g, '');
  for (const span of prose.matchAll(/`([^`]+)`/g)) {
    for (const token of (span[1] ?? '').split(/\s+/)) {
      const match = word.exec(token);
      if (match) found.push([match[1] ?? '', match[2] ?? '']);
    }
  }
  return found;
}

const HEADINGS: Record<RecipeNumber, string> = { 1: '1. JWT mode', 2: '2. Key header', 3: '3. Private network without auth' };

/**
 * Recipe `n` with its placeholders replaced by `fill` (placeholder text → value). LibreChat's base URLs
 * are left as the doc's `http://codecell:7860/v1`, for `pointAt` to replace once the server listens.
 */
export function docRecipe(n: RecipeNumber, fill: Record<string, string>): DocRecipe {
  const doc = readFileSync(DOC, 'utf8');
  const pairs = [...assignments(section(doc, HEADINGS[n])), ...assignments(section(doc, 'Stateful mode'))];
  const recipe: DocRecipe = { codecell: {}, libreChat: {} };
  for (const [name, raw] of pairs) {
    const value = fill[raw] ?? raw;
    if (/[<>]/.test(value)) throw new Error(`recipe ${n}: no value for the placeholder in ${name}=${raw}`);
    const side = /^(LIBRECHAT|CODEAPI)_/.test(name) ? recipe.libreChat : recipe.codecell;
    side[name] = value;
  }
  return recipe;
}

/** The doc's example address, replaced by where the tier's Codecell listens. */
export const DOC_BASE_URL = 'http://codecell:7860/v1';

export function pointAt(libreChat: Record<string, string>, codeBaseUrl: string): Record<string, string> {
  return Object.fromEntries(Object.entries(libreChat).map(([name, value]) => [name, value === DOC_BASE_URL ? codeBaseUrl : value]));
}
