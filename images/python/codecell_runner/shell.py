"""The stand-in for IPython's shell: the magics and shell escapes that magics.py rewrites to.

Not IPython: the notebook habits models write, done the plain way.
  harmless (no-ops)   %matplotlib, %config, %load_ext, %reload_ext, %unload_ext, %autoreload,
                      %aimport, %xmode, %precision, %autosave, %colors
  timing              %time, %%time, %timeit, %%timeit (timing.py)
  working directory   %cd, %pwd, %env
  shell               !cmd, x = !cmd, %sx, %system, %ls and the other shell aliases, %%bash, %%sh
  files               %%writefile [-a] path
  output              %%capture [name], %%html, %%markdown, %%latex (their source, as text)
  packages            %pip, %conda, %mamba, !pip …: answered plainly (packages.py)
Anything else is a UsageError that names the magic.
"""
from __future__ import annotations

import os
import re
import sys

from . import packages
from .timing import UsageError, time_it, timed, timeit_options

SHELL = "/bin/sh"
_NO_OPS = frozenset({
    "matplotlib", "config", "load_ext", "reload_ext", "unload_ext", "autoreload", "aimport",
    "xmode", "precision", "autosave", "colors", "notebook", "qtconsole", "gui",
})
# IPython's default shell aliases on POSIX: %ls runs `ls`.
_ALIASES = frozenset({"ls", "cat", "cp", "mkdir", "mv", "rm", "rmdir", "ldir", "lf", "lk", "ll", "lx"})
_ALIAS_COMMANDS = {"ldir": "ls -F -o | grep /$", "lf": "ls -F -o | grep ^-", "ll": "ls -F -o", "lx": "ls -F -o | grep ^-..x", "lk": "ls -F -o | grep ^l"}
_EXPANSION = re.compile(r"\$\$|\{\{|\}\}|\{([^{}]+)\}|\$([A-Za-z_]\w*)")


def _run(arguments: list[str], capture: bool = False):
    """Runs a command with no stdin; its output goes to the cell's fds unless captured."""
    import subprocess  # at the first shell escape, not at every container start

    return subprocess.run(arguments, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE if capture else None, check=False)


def _split(line: str) -> list[str]:
    import shlex

    return shlex.split(line)


class Shell:
    """The stand-in for IPython's InteractiveShell that rewritten cells call."""

    def __init__(self) -> None:
        self._previous_dirs: list[str] = []

    @property
    def user_ns(self) -> dict:
        return sys.modules["__main__"].__dict__

    # --- entry points the rewritten cell calls ---------------------------------------------------

    def run_line_magic(self, name: str, line: str, _stack_depth: int = 1):
        frame = sys._getframe(_stack_depth)
        method = getattr(self, f"_line_{name}", None)
        if name in _NO_OPS:
            return None
        if name in _ALIASES:
            return self.system(f"{_ALIAS_COMMANDS.get(name, name)} {line}".strip(), _frame=frame)
        if method is None:
            cell_only = getattr(self, f"_cell_{name}", None) is not None
            hint = f" It is a cell magic: write %%{name} on the first line of the cell." if cell_only else ""
            raise UsageError(
                f"Line magic function `%{name}` not found: this is plain Python with a few of IPython's "
                f"magics ({_supported()}).{hint}"
            )
        return method(line, frame)

    def run_cell_magic(self, name: str, line: str, cell: str, _stack_depth: int = 1):
        frame = sys._getframe(_stack_depth)
        method = getattr(self, f"_cell_{name}", None)
        if method is None:
            raise UsageError(
                f"Cell magic `%%{name}` not found: the cell magics here are %%time, %%timeit, %%capture, "
                "%%writefile, %%bash, %%sh, %%html, %%markdown and %%latex (on the cell's first line)."
            )
        return method(line, cell, frame)

    def system(self, command: str, _frame=None) -> None:
        """!cmd: runs through /bin/sh; its output goes straight to the cell's stdout and stderr."""
        command = expand(command, _frame or sys._getframe(1))
        if packages.answer_shell_command(command):
            return None
        _flush()
        status = _run([SHELL, "-c", command]).returncode
        self.user_ns["_exit_code"] = status
        return None

    def getoutput(self, command: str, _frame=None) -> list[str]:
        """x = !cmd: the command's stdout as a list of lines (stderr still goes to the cell's stderr)."""
        command = expand(command, _frame or sys._getframe(1))
        if packages.answer_shell_command(command):
            return []
        _flush()
        completed = _run([SHELL, "-c", command], capture=True)
        self.user_ns["_exit_code"] = completed.returncode
        return completed.stdout.decode("utf-8", "replace").splitlines()

    # --- line magics -----------------------------------------------------------------------------

    def _line_time(self, line: str, frame):
        if not line.strip():
            raise UsageError("%time needs a statement to time, e.g. %time total = sum(values)")
        return timed(line, frame.f_globals, frame.f_locals)

    def _line_timeit(self, line: str, frame):
        options, statement = timeit_options(line)
        if not statement.strip():
            raise UsageError("%timeit needs a statement to time, e.g. %timeit sorted(values)")
        return time_it(statement, "pass", options, frame)

    def _line_cd(self, line: str, frame):
        target = expand(line.strip(), frame)
        if target.startswith(("'", '"')) and target.endswith(target[0]) and len(target) > 1:
            target = target[1:-1]
        if target == "-":
            if not self._previous_dirs:
                raise UsageError("%cd -: there is no previous directory")
            target = self._previous_dirs[-1]
        target = os.path.expanduser(target or "~")
        previous = os.getcwd()
        os.chdir(target)
        self._previous_dirs.append(previous)
        print(os.getcwd(), flush=True)

    def _line_pwd(self, line: str, frame) -> str:
        return os.getcwd()

    def _line_env(self, line: str, frame):
        line = line.strip()
        if not line:
            return dict(os.environ)
        name, separator, value = line.partition("=")
        if not separator:
            name, _, value = line.partition(" ")
            if not value.strip():
                return os.environ.get(name)
        name, value = name.strip(), expand(value.strip(), frame)
        os.environ[name] = value
        print(f"env: {name}={value}", flush=True)
        return None

    def _line_sx(self, line: str, frame) -> list[str]:
        return self.getoutput(line, _frame=frame)

    _line_system = _line_sx

    def _line_pip(self, line: str, frame) -> None:
        packages.answer("pip", _split(line))

    def _line_conda(self, line: str, frame) -> None:
        packages.answer("conda", _split(line))

    def _line_mamba(self, line: str, frame) -> None:
        packages.answer("mamba", _split(line))

    # --- cell magics -----------------------------------------------------------------------------

    def _cell_time(self, line: str, cell: str, frame):
        return timed(cell, frame.f_globals, frame.f_locals)

    def _cell_timeit(self, line: str, cell: str, frame):
        options, setup = timeit_options(line)
        return time_it(cell, setup or "pass", options, frame)

    def _cell_writefile(self, line: str, cell: str, frame) -> None:
        arguments = _split(expand(line, frame))
        append = bool(arguments) and arguments[0] in ("-a", "--append")
        if append:
            arguments = arguments[1:]
        if len(arguments) != 1:
            raise UsageError("%%writefile takes one file name (and -a to append): %%writefile [-a] path")
        path = os.path.expanduser(arguments[0])
        exists = os.path.exists(path)
        print(f"{'Appending to' if append else 'Overwriting' if exists else 'Writing'} {path}", flush=True)
        with open(path, "a" if append else "w", encoding="utf-8") as file:
            file.write(cell)

    def _cell_capture(self, line: str, cell: str, frame) -> None:
        """Runs the cell with Python's stdout and stderr captured (subprocesses still write to the
        cell's own); `%%capture name` keeps them in `name.stdout` and `name.stderr`."""
        import contextlib
        import io

        from . import magics

        captured = CapturedOutput(io.StringIO(), io.StringIO())
        with contextlib.redirect_stdout(captured._out), contextlib.redirect_stderr(captured._err):
            exec(compile(magics.rewrite(cell), "<captured cell>", "exec"), frame.f_globals, frame.f_locals)
        name = line.split()[0] if line.split() and line.split()[0].isidentifier() else None
        if name is not None:
            frame.f_globals[name] = captured

    def _cell_html(self, line: str, cell: str, frame) -> None:
        print(cell, end="" if cell.endswith("\n") else "\n", flush=True)  # shown as its source, as display(HTML(…))

    _cell_markdown = _cell_html
    _cell_latex = _cell_html

    def _cell_bash(self, line: str, cell: str, frame) -> None:
        _flush()
        status = _run(["/bin/bash" if os.path.exists("/bin/bash") else SHELL, "-c", cell]).returncode
        self.user_ns["_exit_code"] = status

    def _cell_sh(self, line: str, cell: str, frame) -> None:
        _flush()
        status = _run([SHELL, "-c", cell]).returncode
        self.user_ns["_exit_code"] = status


class CapturedOutput:
    """What %%capture name keeps: the captured text, and show() to print it after all."""

    def __init__(self, out, err) -> None:
        self._out, self._err = out, err

    @property
    def stdout(self) -> str:
        return self._out.getvalue()

    @property
    def stderr(self) -> str:
        return self._err.getvalue()

    def show(self) -> None:
        sys.stdout.write(self.stdout)
        sys.stderr.write(self.stderr)

    def __call__(self) -> None:
        self.show()


_SHELL_INSTANCE = Shell()


def get_shell() -> Shell:
    return _SHELL_INSTANCE


def _supported() -> str:
    names = sorted(
        {name[len("_line_"):] for name in dir(Shell) if name.startswith("_line_")} | _NO_OPS | {"ls", "cat"}
    )
    return ", ".join(f"%{name}" for name in names) + ", !cmd"


def expand(text: str, frame) -> str:
    """IPython's expansion in shell commands: {expression} and $name from the cell's variables;
    $$ is a literal $, and what does not evaluate is left as written (a shell variable, awk's {…})."""
    if frame is None:
        return text

    def replace(match: re.Match) -> str:
        token = match.group(0)
        if token in ("$$", "{{", "}}"):
            return token[0]
        expression = match.group(1) or match.group(2)
        try:
            return str(eval(expression, frame.f_globals, frame.f_locals))
        except Exception:
            return token

    return _EXPANSION.sub(replace, text)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
