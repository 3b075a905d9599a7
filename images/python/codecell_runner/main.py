"""Life of a runner (images/PROTOCOL.md): warm up, say ready, read the job, restore, run, save,
collect figures, answer with the result frame."""
from __future__ import annotations

import _io
import gc
import importlib
import os
import signal
import sys
import time
import traceback
import types

from . import figures, leftovers, notebook, packages, resources, rich, snapshot
from .cell import CellOutcome, run_cell
from .frames import READY_NONCE, FrameWriter, Job, JobError, parse_job, read_job_line

STATE_IN = "/run/codecell/in/state"
STATE_OUT = "/run/codecell/out/state"
WORKDIR = "/mnt/data"
# Font cache and matplotlibrc made at image build time; copied to $MPLCONFIGDIR (on /tmp) at warm-up.
MATPLOTLIB_TEMPLATE = "/opt/codecell/matplotlib"
REPORTED_MODULES = ("numpy", "pandas", "matplotlib", "scipy", "sklearn", "seaborn")

# Bounds of the result frame's schema (src/executor/runner-protocol.ts).
_MAX_NOT_CARRIED = 10_000
_MAX_NAME_CHARS = 500
_MAX_REASON_CHARS = 2_000


def main() -> int:
    frames = FrameWriter()
    try:
        warm_up()
    finally:
        gc.enable()  # the runner script turned it off for the imports (see there)
    frames.send(READY_NONCE, {"type": "ready", "runtime": "python", "version": "%d.%d.%d" % sys.version_info[:3]})
    try:
        job = parse_job(read_job_line())
    except JobError as exc:
        print(f"codecell runner: {exc}", file=sys.stderr, flush=True)
        return 2
    _detach_stdin()
    try:
        result = run_job(job)
    except BaseException as exc:  # a bug of the runner: still answer, so the host is not left waiting
        result = _runner_failure(exc)
    _flush_user_streams()
    frames.end_stderr(job.nonce)
    frames.send(job.nonce, result)
    return 0


def warm_up() -> None:
    """Everything that can be done before the job is known, while the container waits in the pool."""
    resources.size_thread_pools()
    resources.report_cpu_cap()
    _prepare_matplotlib_config()
    for name in _preload_names():
        try:
            importlib.import_module(name)
        except Exception:
            pass  # only a head start: the user's own import will report the problem
    if "matplotlib.pyplot" in sys.modules:
        importlib.import_module("codecell_runner.mpl_backend")  # pyplot loads it at the first figure
    notebook.install()  # display(), magics, IPython.display, PIL's show()


def run_job(job: Job) -> dict:
    os.environ[figures.MAX_IMAGES_ENV] = str(job.max_images)  # for subprocesses that plot too
    namespace = _fresh_main_module().__dict__
    os.chdir(WORKDIR)
    # Like `python -c`: the user's imports resolve in the working directory (the runner's own
    # directory was sys.path[0] until now), and the job's args follow an empty argv[0].
    sys.path[0] = ""
    sys.argv = ["", *job.args]

    began = time.perf_counter()
    # Armed before the restore: a value's __setstate__ may open a file the cell then writes to.
    _write_opens.armed = True
    not_carried = _restore(namespace) if job.restore else []
    restored = time.perf_counter()
    threads_before = leftovers.thread_idents()
    outcome = run_cell(job.code, namespace)
    _quiet_user_signals()
    left_running = leftovers.notices(threads_before)
    # Figures are rendered and closed before saving: a pickled figure that pyplot still had open
    # would be reopened at restore and shown again at the end of the next run.
    _render_open_figures()
    if _write_opens.seen:
        _flush_open_files()
    ran = time.perf_counter()
    state_saved, state_error = True, None
    try:
        not_carried += snapshot.save(namespace, STATE_OUT)
    except Exception as exc:
        state_saved, state_error = False, f"{type(exc).__name__}: {exc}"
    saved = time.perf_counter()
    collected = figures.collect(job.max_images)
    timings = {"restoreMs": _ms(restored - began), "runMs": _ms(ran - restored), "saveMs": _ms(saved - ran)}
    result = _result(outcome, collected, not_carried, state_saved, state_error, timings)
    result["displays"], display_notices = rich.collect()
    result["notices"] = _notices(outcome) + left_running + display_notices
    return result


class _WriteOpens:
    """Whether the cell opened anything for writing, from the interpreter's `open` audit event (raised
    by every io.open, FileIO and os.open, at any depth of library code). A cell that opened nothing
    for writing left no unflushed buffer, and skips the heap scan (3 ms lean, 30 ms with pandas loaded)."""

    def __init__(self) -> None:
        self.armed = False
        self.seen = False
        sys.addaudithook(self._hook)

    def _hook(self, event: str, args: tuple) -> None:
        if event != "open" or not self.armed or self.seen:
            return
        mode, flags = (args[1], args[2]) if len(args) >= 3 else (None, 0)
        if isinstance(mode, str):
            self.seen = any(letter in mode for letter in "wax+")
        elif isinstance(flags, int):
            self.seen = bool(flags & (os.O_WRONLY | os.O_RDWR))
        else:
            self.seen = True


_write_opens = _WriteOpens()


def _quiet_user_signals() -> None:
    """The cell's timers and signal handlers end with the cell: the runner's own work after it
    (figures, files, the snapshot, the answer) must not be cut short by a handler that raises
    (a timeout guard the cell forgot to cancel). A signal already pending finds no handler either."""
    for timer in (signal.ITIMER_REAL, signal.ITIMER_VIRTUAL, signal.ITIMER_PROF):
        signal.setitimer(timer, 0)
    for number in signal.valid_signals():
        try:
            handler = signal.getsignal(number)
            if callable(handler) and handler is not signal.default_int_handler:
                signal.signal(number, signal.SIG_IGN)
        except (OSError, ValueError):
            pass  # a signal Python cannot handle has no Python handler either


def _flush_open_files() -> None:
    """Finish the files the cell left open for writing, as a script's exit would: write out their
    buffers, then close them, which also ends a compressed stream (gzip, bz2 and lzma write their
    end-of-stream marker only at close). Open files are never carried to the next run, so closing
    them loses nothing; the process is stopped without any exit-time cleanup."""
    # The standard streams stay open, down to their buffers: the runner and the user's code still write to them.
    keep = set()
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        for layer in (stream, getattr(stream, "buffer", None), getattr(getattr(stream, "buffer", None), "raw", None)):
            if layer is not None:
                keep.add(id(layer))
    # _io._IOBase is a C type: far cheaper to test than the io.IOBase ABC, and every io class derives from it.
    writable = []
    for obj in gc.get_objects():
        if not isinstance(obj, _io._IOBase) or id(obj) in keep:
            continue
        try:
            # A file object over fd 0, 1 or 2 (os.fdopen(1, "w")) would close the process's own stream.
            if not obj.closed and obj.writable() and obj.fileno() > 2:
                writable.append(obj)
        except Exception:
            pass  # no descriptor (an in-memory stream) or already unusable: nothing to finish
    # Flush every one first: a text wrapper's buffer goes down into the stream it wraps before
    # that stream closes (in whatever order the heap lists them).
    for step in ("flush", "close"):
        for obj in writable:
            try:
                getattr(obj, step)()
            except Exception:
                pass  # a file that cannot be written out now could not be at exit either


def _notices(outcome: CellOutcome) -> list[str]:
    """Sentences for the result's notice (images/PROTOCOL.md): what the error alone would not say."""
    hint = packages.hint_for_error(outcome.error)
    return [hint] if hint else []


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def _result(
    outcome: CellOutcome, collected, not_carried, state_saved: bool, state_error: str | None, timings: dict | None = None
) -> dict:
    return {
        "type": "result",
        "outcome": "ok" if outcome.ok else "error",
        "value": outcome.value,
        "error": outcome.error,
        "exitCode": outcome.exit_code,
        "images": collected.images,
        "imagesOmitted": collected.omitted,
        "notCarried": [
            {
                "name": item.name[:_MAX_NAME_CHARS],
                "type": item.type[:_MAX_NAME_CHARS],
                "reason": item.reason[:_MAX_REASON_CHARS],
            }
            for item in not_carried[:_MAX_NOT_CARRIED]
        ],
        "stateSaved": state_saved,
        "stateError": state_error,
        "loadedModules": [name for name in REPORTED_MODULES if name in sys.modules],
        # Where the run's time went (restore, the code with its figures, save): for the host's logs.
        "timings": timings,
        "oomKills": _oom_kills(),
    }


# The container's own memory cgroup, as cgroup v2 and v1 show it inside the container.
_OOM_COUNTERS = ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control")


def _oom_kills() -> int | None:
    """OOM kills the kernel has counted in this container so far; None where no counter is visible."""
    for path in _OOM_COUNTERS:
        try:
            with open(path, encoding="ascii") as counters:
                for line in counters:
                    key, _, count = line.partition(" ")
                    if key == "oom_kill":
                        return int(count)
        except (OSError, ValueError):
            continue
    return None


def _restore(namespace: dict) -> list[snapshot.NotCarried]:
    try:
        return snapshot.restore(STATE_IN, namespace)
    except snapshot.SnapshotError as exc:
        reason = f"restore failed: {exc}"
    except Exception as exc:  # unreadable file, or a bug: whatever was restored so far stays
        reason = f"restore failed: cannot read the snapshot: {type(exc).__name__}: {exc}"
    return [snapshot.NotCarried("<snapshot>", "snapshot", reason)]


def _fresh_main_module() -> types.ModuleType:
    """The user's code runs as `__main__`, so cloudpickle pickles its functions and classes by
    value, as it does for a script or a notebook."""
    module = types.ModuleType("__main__")
    sys.modules["__main__"] = module
    return module


def _render_open_figures() -> None:
    try:
        figures.show_open_figures()
    except Exception as exc:
        print(f"codecell: could not render the open figures: {exc}", file=sys.stderr, flush=True)


def _prepare_matplotlib_config() -> None:
    """Copies the build-time font cache into $MPLCONFIGDIR.

    Matplotlib insists on a writable config directory: given the read-only copy it would make a
    temporary directory and rebuild the font cache there, at about a CPU-second per container.
    """
    target = os.environ.get("MPLCONFIGDIR")
    if not target or os.path.isdir(target) or not os.path.isdir(MATPLOTLIB_TEMPLATE):
        return
    try:
        os.makedirs(target)
        for name in os.listdir(MATPLOTLIB_TEMPLATE):
            source = os.path.join(MATPLOTLIB_TEMPLATE, name)
            if os.path.isfile(source):
                with open(source, "rb") as src, open(os.path.join(target, name), "wb") as dst:
                    dst.write(src.read())
    except OSError as exc:
        print(f"codecell: matplotlib cache not prepared: {exc}", file=sys.stderr, flush=True)


def _preload_names() -> list[str]:
    return [name.strip() for name in os.environ.get("CODECELL_PRELOAD", "").split(",") if name.strip()]


def _detach_stdin() -> None:
    """The job line was the only input: user code reading stdin gets end-of-file, not a hang."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)


def _flush_user_streams() -> None:
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except Exception:
            pass  # replaced or closed by the user's code


def _runner_failure(exc: BaseException) -> dict:
    details = "".join(traceback.format_exception(exc))
    print(f"codecell runner failed:\n{details}", file=sys.stderr, flush=True)
    outcome = CellOutcome(
        value=None,
        error={"name": "RunnerError", "message": f"{type(exc).__name__}: {exc}"[:10_000], "traceback": details[-50_000:]},
        exit_code=1,
    )
    return _result(outcome, figures.CollectedImages(images=[], omitted=0), [], False, "the runner failed")
