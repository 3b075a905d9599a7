"""What a cell left running when it ended, said in the run's notice. The runner is stopped once it
has answered, and everything of the cell stops with it: a non-daemon thread of the cell's own code
(a script would wait for it) and a process it started (a script would leave it running) lose
whatever they would still have done and printed. Not named: daemon threads, and the threads and
helper processes of libraries (thread pools, joblib, multiprocessing's daemonic workers), which a
script's exit stops too."""

from __future__ import annotations

import os
import sys
import threading

_NAMES_SHOWN = 3


def thread_idents() -> set[int]:
    """The threads alive now (the runner's own, before the cell)."""
    return {thread.ident for thread in threading.enumerate() if thread.ident is not None}


def notices(threads_before: set[int]) -> list[str]:
    """Sentences for the threads and child processes the cell left running; none when they cannot
    be told (a notice must never cost the run its answer)."""
    try:
        return _notices(threads_before)
    except BaseException:  # a thread name whose __repr__ raises SystemExit must not cost the run its state
        return []


def _notices(threads_before: set[int]) -> list[str]:
    said = []
    threads = [
        thread
        for thread in threading.enumerate()
        if thread.ident not in threads_before and thread.is_alive() and not thread.daemon and _cells_own(thread)
    ]
    if threads:
        names = ", ".join(repr(thread.name) for thread in threads[:_NAMES_SHOWN])
        more = f" and {len(threads) - _NAMES_SHOWN} more" if len(threads) > _NAMES_SHOWN else ""
        said.append(
            f"{_count(len(threads), 'thread')} the cell started ({names}{more}) "
            f"{'was' if len(threads) == 1 else 'were'} still running when it ended, and stopped with it: "
            "what it would still have done or printed is lost. To keep a thread's work, wait for it in the cell (.join())."
        )
    processes = _running_processes()
    if processes:
        names = ", ".join(command if command.startswith(_FORK) else repr(command) for command in processes[:_NAMES_SHOWN])
        more = f" and {len(processes) - _NAMES_SHOWN} more" if len(processes) > _NAMES_SHOWN else ""
        said.append(
            f"{_count(len(processes), 'process', 'processes')} the cell started ({names}{more}) "
            f"{'was' if len(processes) == 1 else 'were'} still running when it ended, and stopped with it. "
            "To keep a process's work, wait for it in the cell (proc.wait(), p.join(), subprocess.run)."
        )
    return said


def _cells_own(thread: threading.Thread) -> bool:
    """A thread of the cell's own code: its class, target or timer function was defined in a cell.
    Threads of libraries (thread pools, joblib's and multiprocessing's helpers) are shut down by a
    script's exit too, so their being stopped loses nothing a script would have kept."""
    candidates = [type(thread), getattr(thread, "_target", None), getattr(thread, "function", None)]
    for candidate in candidates:
        candidate = getattr(candidate, "func", candidate)  # functools.partial
        if candidate is not None and getattr(candidate, "__module__", None) == "__main__":
            return True
    return False


def _running_processes() -> list[str]:
    """The command lines of the processes of this run still running: this process's descendants and
    the processes of its process group (a shell's `cmd &` leaves one behind, adopted by init). Left
    out: processes that have exited, multiprocessing's daemonic children and library helpers (a
    script's exit stops them too)."""
    # Only when the cell imported it: importing it here would cost every run 10 ms.
    multiprocessing = sys.modules.get("multiprocessing")
    daemonic = {child.pid for child in multiprocessing.active_children() if child.daemon} if multiprocessing else set()
    me, group = os.getpid(), os.getpgrp()
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            table[int(entry)] = (fields[0], int(fields[1]), int(fields[2]))  # state, ppid, pgrp
        except (OSError, IndexError, ValueError):
            continue  # gone since it was listed
    commands = []
    own_command = _command_line(me)
    for pid, (state, _, pgrp) in sorted(table.items()):
        if pid in (me, 1) or state in ("Z", "X") or pid in daemonic:
            continue
        if pgrp != group and not _descends_from(pid, me, table):
            continue
        command = _command_line(pid)
        if command is None or any(helper in command for helper in _LIBRARY_HELPERS):
            continue
        # A fork of the cell (os.fork, multiprocessing's fork) shows the runner's own command line.
        commands.append(f"{_FORK}, pid {pid}" if command == own_command else command)
    return commands


_FORK = "a fork of the cell"

# Helper processes libraries start and stop themselves, named by their command lines.
_LIBRARY_HELPERS = ("loky", "multiprocessing.resource_tracker", "multiprocessing.forkserver", "semaphore_tracker")


def _descends_from(pid: int, ancestor: int, table: dict) -> bool:
    seen = set()
    while pid in table and pid not in seen:
        seen.add(pid)
        pid = table[pid][1]
        if pid == ancestor:
            return True
    return False


def _command_line(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as listing:
            words = listing.read().split(b"\0")
    except OSError:
        return None
    command = " ".join(word.decode("utf-8", "replace") for word in words if word)
    return command[:80] if command else None


def _count(number: int, one: str, many: str | None = None) -> str:
    return f"{number} {one if number == 1 else (many or one + 's')}"
