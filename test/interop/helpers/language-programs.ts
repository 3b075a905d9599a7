/**
 * One small program per language LibreChat's execute_code offers, each computing its answer so the
 * output proves the code ran (not only that something answered).
 */
export interface LanguageProgram {
  lang: string;
  code: string;
  stdout: string;
}

/** The session languages (warm runtimes that keep variables). */
export const SESSION_LANGUAGE_PROGRAMS: LanguageProgram[] = [
  { lang: 'py', code: 'print(sum(range(10)), "py")', stdout: '45 py' },
  { lang: 'js', code: 'console.log([1, 2, 3].reduce((a, b) => a + b) * 7, "js")', stdout: '42 js' },
  { lang: 'ts', code: 'const n: number = 6;\nconsole.log(`${n * 7} ts`);', stdout: '42 ts' },
  { lang: 'bash', code: 'echo "$((6 * 7)) bash"', stdout: '42 bash' },
];

/** The compiled or one-shot languages (compile and run, nothing kept between calls). */
export const ONE_SHOT_LANGUAGE_PROGRAMS: LanguageProgram[] = [
  {
    lang: 'c',
    code: '#include <stdio.h>\nint main(void) {\n  int s = 0;\n  for (int i = 1; i <= 10; i++) s += i;\n  printf("%d c\\n", s);\n  return 0;\n}\n',
    stdout: '55 c',
  },
  {
    lang: 'cpp',
    code: '#include <iostream>\n#include <numeric>\n#include <vector>\nint main() {\n  std::vector<int> v{1, 2, 3, 4};\n  std::cout << std::accumulate(v.begin(), v.end(), 0) * 4 << " cpp" << std::endl;\n}\n',
    stdout: '40 cpp',
  },
  {
    lang: 'java',
    code: 'public class Factorial {\n  public static void main(String[] args) {\n    long f = 1;\n    for (int i = 2; i <= 10; i++) f *= i;\n    System.out.println(f + " java");\n  }\n}\n',
    stdout: '3628800 java',
  },
  { lang: 'php', code: '<?php\necho array_sum(range(1, 100)) . " php\\n";\n', stdout: '5050 php' },
  { lang: 'rs', code: 'fn main() {\n    let p: u64 = (1..=20).product();\n    println!("{} rs", p);\n}\n', stdout: '2432902008176640000 rs' },
  {
    lang: 'go',
    code: 'package main\n\nimport "fmt"\n\nfunc main() {\n\tx := 0\n\tfor i := 0; i < 7; i++ {\n\t\tx += i * i\n\t}\n\tfmt.Println(x, "go")\n}\n',
    stdout: '91 go',
  },
  { lang: 'd', code: 'import std.stdio;\n\nvoid main() {\n    int s = 0;\n    foreach (i; 1 .. 11) s += i * 2;\n    writeln(s, " d");\n}\n', stdout: '110 d' },
  {
    lang: 'f90',
    code: "program main\n  integer :: i, s\n  s = 0\n  do i = 1, 12\n    s = s + i\n  end do\n  print '(I0,A)', s, ' f90'\nend program main\n",
    stdout: '78 f90',
  },
  { lang: 'r', code: 'cat(sum(1:9) * 2, "r\\n")', stdout: '90 r' },
];
