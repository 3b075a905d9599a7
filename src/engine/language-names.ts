/** How each language is named to people and models (messages, tool descriptions). */
import type { Language } from '../domain/types.js';

export const LANGUAGE_TITLES: Readonly<Record<Language, string>> = {
  python: 'Python',
  javascript: 'JavaScript',
  typescript: 'TypeScript',
  bash: 'bash',
  c: 'C',
  cpp: 'C++',
  go: 'Go',
  java: 'Java',
  rust: 'Rust',
  php: 'PHP',
  r: 'R',
  d: 'D',
  fortran: 'Fortran',
};
