"""%time and %timeit as IPython prints them: CPU and wall time of one run; mean ± std. dev. per loop."""
from __future__ import annotations

import re
import resource
import time


class UsageError(Exception):
    """A magic that does not exist here, or was called the wrong way."""


def format_time(seconds: float, precision: int = 3) -> str:
    """A duration as IPython writes it: 1.23 s, 45.6 ms, 789 µs, 12 ns; 1min 5s past a minute."""
    if seconds >= 60.0:
        minutes, rest = divmod(seconds, 60.0)
        hours, minutes = divmod(minutes, 60.0)
        parts = [(hours, "h"), (minutes, "min"), (rest, "s")]
        return " ".join(f"{int(value)}{unit}" for value, unit in parts if value >= 1 or unit == "s")
    units = (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9))
    for unit, scale in units:
        if seconds >= scale or unit == "ns":
            return f"{seconds / scale:.{precision}g} {unit}"
    raise AssertionError("unreachable")


def timed(source: str, global_ns: dict, local_ns: dict | None = None):
    """%time: runs the statement (or cell) once and prints the CPU and wall time it took.

    The value of a trailing expression is returned, as %time in IPython does."""
    import ast  # only for cells that time something

    tree = ast.parse(source, "<timed exec>")
    trailing = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        trailing = compile(ast.Expression(tree.body.pop().value), "<timed eval>", "eval")
    body = compile(tree, "<timed exec>", "exec")
    started, cpu_started = time.perf_counter(), cpu_times()
    exec(body, global_ns, local_ns)
    value = eval(trailing, global_ns, local_ns) if trailing is not None else None
    report_time(started, cpu_started)
    return value


def cpu_times() -> tuple[float, float]:
    """User and system CPU seconds of this process, to the microsecond (os.times() counts ticks)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def report_time(started: float, cpu_started: tuple[float, float]) -> None:
    """Prints what IPython's %time prints, from `started` (perf_counter) and `cpu_started` (cpu_times)."""
    wall, cpu = time.perf_counter() - started, cpu_times()
    user, system = cpu[0] - cpu_started[0], cpu[1] - cpu_started[1]
    print(
        f"CPU times: user {format_time(user)}, sys: {format_time(system)}, total: {format_time(user + system)}\n"
        f"Wall time: {format_time(wall)}",
        flush=True,
    )


class TimeitResult:
    """What %timeit -o returns: the per-loop times of each run, in seconds."""

    def __init__(self, loops: int, repeat: int, all_runs: list[float]) -> None:
        self.loops = loops
        self.repeat = repeat
        self.all_runs = all_runs
        self.timings = [run / loops for run in all_runs]
        self.best = min(self.timings)
        self.worst = max(self.timings)
        self.average = sum(self.timings) / len(self.timings)
        self.stdev = (sum((t - self.average) ** 2 for t in self.timings) / len(self.timings)) ** 0.5

    def __str__(self) -> str:
        runs = f"{self.repeat} run{'s' if self.repeat != 1 else ''}"
        loops = f"{self.loops:,} loop{'s' if self.loops != 1 else ''} each"
        if self.repeat == 1:
            return f"{format_time(self.average)} per loop (mean ± std. dev. of {runs}, {loops})"
        return f"{format_time(self.average)} ± {format_time(self.stdev)} per loop (mean ± std. dev. of {runs}, {loops})"

    __repr__ = __str__


def timeit_options(line: str) -> tuple[dict, str]:
    """-n N, -r R, -o, -q (as IPython's %timeit); the rest is the statement."""
    options = {"number": 0, "repeat": 7, "return": False, "quiet": False}
    words = line.strip().split(" ")
    while words and words[0].startswith("-") and len(words[0]) > 1:
        flag = words.pop(0)
        if flag in ("-n", "-r") and words:
            value = words.pop(0)
            if not value.isdigit() or int(value) < 1:
                raise UsageError(f"%timeit {flag} takes a positive whole number, not {value!r}")
            options["number" if flag == "-n" else "repeat"] = int(value)
        elif flag == "-o":
            options["return"] = True
        elif flag == "-q":
            options["quiet"] = True
        elif re.fullmatch(r"-[nr]\d+", flag):
            options["number" if flag[1] == "n" else "repeat"] = max(1, int(flag[2:]))
        else:
            raise UsageError(f"%timeit: unknown option {flag} (known: -n N, -r R, -o, -q)")
    return options, " ".join(words)


def time_it(statement: str, setup: str, options: dict, frame):
    """%timeit: as IPython, loops grow tenfold until one run takes 0.2 s, then `repeat` runs."""
    import timeit  # only for cells that time something

    namespace = dict(frame.f_globals)
    if frame.f_locals is not frame.f_globals:
        namespace.update(frame.f_locals)
    timer = timeit.Timer(statement, setup, globals=namespace)
    number = options["number"]
    if number == 0:
        number = 1
        for exponent in range(10):
            number = 10**exponent
            if timer.timeit(number) >= 0.2:
                break
    runs = timer.repeat(repeat=options["repeat"], number=number)
    result = TimeitResult(number, options["repeat"], runs)
    if not options["quiet"]:
        print(result, flush=True)
    return result if options["return"] else None
