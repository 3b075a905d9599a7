/**
 * One small program per one-shot language, for the Docker tier: each `hello` prints its args and
 * the first line of input.txt, then writes that line plus "!" to out.txt; `fails` writes "boom" to
 * stderr and exits 3; `broken` does not compile (PHP and R: does not parse) and names
 * `undefined_name` or the token the parser trips on; `spins` prints "started" and never ends.
 */
import type { OneShotLanguage } from '../../src/domain/types.js';

export interface LanguagePrograms {
  readonly hello: string;
  readonly fails: string;
  readonly broken: string;
  /** What the compiler's (or parser's) message in stderr must contain. */
  readonly brokenSays: string;
  /** The error name the result carries for `broken`. */
  readonly brokenError: 'CompileError' | 'ExitStatus';
  readonly spins: string;
}

/** Args the hello programs get, one with a space in it. */
export const HELLO_ARGS = ['a b', 'c'];
export const INPUT_LINE = 'abc';
export const HELLO_STDOUT = 'hello a b,c read=abc\n';
export const OUT_TXT = 'abc!\n';

export const PROGRAMS: Readonly<Record<OneShotLanguage, LanguagePrograms>> = {
  c: {
    hello: `#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
  char line[100] = {0};
  FILE *in = fopen("input.txt", "r");
  if (!in || !fgets(line, sizeof line, in)) return 9;
  line[strcspn(line, "\\n")] = 0;
  printf("hello");
  for (int i = 1; i < argc; i++) printf("%s%s", i == 1 ? " " : ",", argv[i]);
  printf(" read=%s\\n", line);
  FILE *out = fopen("out.txt", "w");
  fprintf(out, "%s!\\n", line);
  fclose(out);
  return 0;
}
`,
    fails: '#include <stdio.h>\nint main(void) { fprintf(stderr, "boom\\n"); return 3; }\n',
    broken: 'int main(void) { return undefined_name; }\n',
    brokenSays: 'undefined_name',
    brokenError: 'CompileError',
    spins: '#include <stdio.h>\nint main(void) { volatile unsigned long n = 0; puts("started"); fflush(stdout); for (;;) n++; }\n',
  },
  cpp: {
    hello: `#include <fstream>
#include <iostream>
#include <string>
int main(int argc, char **argv) {
  std::ifstream in("input.txt");
  std::string line;
  std::getline(in, line);
  std::cout << "hello";
  for (int i = 1; i < argc; ++i) std::cout << (i == 1 ? " " : ",") << argv[i];
  std::cout << " read=" << line << "\\n";
  std::ofstream("out.txt") << line << "!\\n";
}
`,
    fails: '#include <iostream>\nint main() { std::cerr << "boom\\n"; return 3; }\n',
    broken: 'int main() { return undefined_name; }\n',
    brokenSays: 'undefined_name',
    brokenError: 'CompileError',
    spins: '#include <iostream>\nint main() { volatile unsigned long n = 0; std::cout << "started" << std::endl; for (;;) n = n + 1; }\n',
  },
  go: {
    hello: `package main

import (
	"fmt"
	"os"
	"strings"
)

func main() {
	data, err := os.ReadFile("input.txt")
	if err != nil {
		panic(err)
	}
	line := strings.TrimRight(string(data), "\\n")
	fmt.Printf("hello %s read=%s\\n", strings.Join(os.Args[1:], ","), line)
	if err := os.WriteFile("out.txt", []byte(line+"!\\n"), 0o644); err != nil {
		panic(err)
	}
}
`,
    fails: 'package main\n\nimport (\n\t"fmt"\n\t"os"\n)\n\nfunc main() {\n\tfmt.Fprintln(os.Stderr, "boom")\n\tos.Exit(3)\n}\n',
    broken: 'package main\n\nfunc main() {\n\tundefined_name()\n}\n',
    brokenSays: 'undefined: undefined_name',
    brokenError: 'CompileError',
    spins: 'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println("started")\n\tfor {\n\t}\n}\n',
  },
  java: {
    // Not Main: the public class's own name must work.
    hello: `import java.nio.file.Files;
import java.nio.file.Path;

public class Greeter {
    public static void main(String[] args) throws Exception {
        String line = Files.readAllLines(Path.of("input.txt")).get(0);
        System.out.println("hello " + String.join(",", args) + " read=" + line);
        Files.writeString(Path.of("out.txt"), line + "!\\n");
    }
}
`,
    fails: 'public class Main {\n    public static void main(String[] args) {\n        System.err.println("boom");\n        System.exit(3);\n    }\n}\n',
    broken: 'public class Main {\n    public static void main(String[] args) {\n        undefined_name();\n    }\n}\n',
    brokenSays: 'cannot find symbol',
    brokenError: 'CompileError',
    spins: 'public class Spin {\n    public static void main(String[] args) {\n        System.out.println("started");\n        System.out.flush();\n        long n = 0;\n        while (true) n++;\n    }\n}\n',
  },
  rust: {
    hello: `use std::fs;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let text = fs::read_to_string("input.txt").unwrap();
    let line = text.trim_end();
    println!("hello {} read={}", args.join(","), line);
    fs::write("out.txt", format!("{}!\\n", line)).unwrap();
}
`,
    fails: 'fn main() {\n    eprintln!("boom");\n    std::process::exit(3);\n}\n',
    broken: 'fn main() {\n    undefined_name();\n}\n',
    brokenSays: 'undefined_name',
    brokenError: 'CompileError',
    spins: 'fn main() {\n    println!("started");\n    loop {\n        std::hint::spin_loop();\n    }\n}\n',
  },
  php: {
    hello: `<?php
$line = rtrim(file_get_contents("input.txt"), "\\n");
echo "hello ", implode(",", array_slice($argv, 1)), " read=", $line, "\\n";
file_put_contents("out.txt", $line . "!\\n");
`,
    fails: '<?php\nfwrite(STDERR, "boom\\n");\nexit(3);\n',
    broken: '<?php\necho "a" undefined_name;\n',
    brokenSays: 'syntax error',
    brokenError: 'ExitStatus',
    spins: '<?php\necho "started\\n";\nflush();\nwhile (true) {}\n',
  },
  r: {
    hello: `args <- commandArgs(trailingOnly = TRUE)
line <- readLines("input.txt", warn = FALSE)[1]
cat("hello ", paste(args, collapse = ","), " read=", line, "\\n", sep = "")
writeLines(paste0(line, "!"), "out.txt")
`,
    fails: 'cat("boom\\n", file = stderr())\nquit(status = 3)\n',
    broken: 'x <- 1 +* undefined_name\n',
    brokenSays: 'unexpected',
    brokenError: 'ExitStatus',
    spins: 'cat("started\\n")\nflush(stdout())\nrepeat {}\n',
  },
  d: {
    hello: `import std.array : join;
import std.file : readText, write;
import std.stdio : writeln;
import std.string : chomp;

void main(string[] args) {
    auto line = readText("input.txt").chomp;
    writeln("hello ", args[1 .. $].join(","), " read=", line);
    write("out.txt", line ~ "!\\n");
}
`,
    fails: 'import std.stdio;\n\nint main() {\n    stderr.writeln("boom");\n    return 3;\n}\n',
    broken: 'void main() {\n    undefined_name();\n}\n',
    brokenSays: 'undefined_name',
    brokenError: 'CompileError',
    spins: 'import std.stdio;\n\nvoid main() {\n    writeln("started");\n    stdout.flush();\n    ulong n;\n    while (true) { n++; }\n}\n',
  },
  fortran: {
    hello: `program hello
  implicit none
  character(len=256) :: line, arg, joined
  integer :: i, unit
  open(newunit=unit, file="input.txt", status="old", action="read")
  read(unit, "(A)") line
  close(unit)
  joined = ""
  do i = 1, command_argument_count()
    call get_command_argument(i, arg)
    if (i == 1) then
      joined = trim(arg)
    else
      joined = trim(joined) // "," // trim(arg)
    end if
  end do
  write(*, "(A)") "hello " // trim(joined) // " read=" // trim(line)
  open(newunit=unit, file="out.txt", status="replace", action="write")
  write(unit, "(A)") trim(line) // "!"
  close(unit)
end program hello
`,
    fails: 'program fails\n  use iso_fortran_env, only: error_unit\n  write(error_unit, "(A)") "boom"\n  error stop 3\nend program fails\n',
    broken: 'program broken\n  implicit none\n  undefined_name = 1\nend program broken\n',
    brokenSays: 'undefined_name',
    brokenError: 'CompileError',
    spins: 'program spins\n  implicit none\n  integer, volatile :: n = 0\n  write(*, "(A)") "started"\n  flush(6)\n  do\n    n = n + 1\n  end do\nend program spins\n',
  },
};
