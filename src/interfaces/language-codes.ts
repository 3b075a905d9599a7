/**
 * What callers may call a language: the engine's names plus the short codes LibreChat's Code API
 * tool sends (py, js, ts, rs, f90, …) and a few common spellings. Shared by /v1/exec and MCP's
 * execute_code, so both accept the same words.
 */
import { LANGUAGES, type Language } from '../domain/types.js';

/** LibreChat's `lang` codes (its execute_code tool schema), each with the language it means. */
export const LIBRECHAT_LANGUAGE_CODES: ReadonlyMap<string, Language> = new Map<string, Language>([
  ['py', 'python'],
  ['js', 'javascript'],
  ['ts', 'typescript'],
  ['bash', 'bash'],
  ['c', 'c'],
  ['cpp', 'cpp'],
  ['java', 'java'],
  ['php', 'php'],
  ['rs', 'rust'],
  ['go', 'go'],
  ['d', 'd'],
  ['f90', 'fortran'],
  ['r', 'r'],
]);

/** A Map, not an object literal: a name like `__proto__` or `constructor` must not find anything. */
const LANGUAGE_ALIASES: ReadonlyMap<string, Language> = new Map<string, Language>([
  ...LANGUAGES.map((language) => [language, language] as const),
  ...LIBRECHAT_LANGUAGE_CODES,
  ['python3', 'python'],
  ['node', 'javascript'],
  ['nodejs', 'javascript'],
  ['sh', 'bash'],
  ['shell', 'bash'],
  ['c++', 'cpp'],
  ['golang', 'go'],
  ['f95', 'fortran'],
]);

/** Every word accepted for a language, for a schema's enum. */
export const LANGUAGE_WORDS: readonly string[] = [...LANGUAGE_ALIASES.keys()];

/** The language a (case-insensitive, trimmed) word names, or undefined. */
export function languageNamed(word: string): Language | undefined {
  return LANGUAGE_ALIASES.get(word.trim().toLowerCase());
}
