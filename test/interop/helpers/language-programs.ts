/**
 * One small program per language LibreChat's execute_code offers, each computing its answer so the
 * output proves the code ran (not only that something answered).
 */
export interface LanguageProgram {
  lang: string;
  code: string;
  stdout: string;
}

export const LANGUAGE_PROGRAMS: LanguageProgram[] = [
  { lang: 'py', code: 'print(sum(range(10)), "py")', stdout: '45 py' },
  { lang: 'js', code: 'console.log([1, 2, 3].reduce((a, b) => a + b) * 7, "js")', stdout: '42 js' },
  { lang: 'ts', code: 'const n: number = 6;\nconsole.log(`${n * 7} ts`);', stdout: '42 ts' },
  { lang: 'bash', code: 'echo "$((6 * 7)) bash"', stdout: '42 bash' },
];
