"""What a cell left running when it ended, said in the run's notice. The runner is stopped once it
has answered, and everything of the cell stops with it: a non-daemon thread (a script would wait for
it) and a child process (a script would leave it running) lose whatever they would still have done
and printed. Daemon threads are not named: a script's exit stops them too."""

from __future__ import annotations

import os
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
    except Exception:
        return []


def _notices(threads_before: set[int]) -> list[str]:
    said = []
    threads = [
        thread
        for thread in threading.enumerate()
        if thread.ident not in threads_before and thread.is_alive() and not thread.daemon
    ]
    if threads:
        names = ", ".join(repr(thread.name) for thread in threads[:_NAMES_SHOWN])
        more = f" and {len(threads) - _NAMES_SHOWN} more" if len(threads) > _NAMES_SHOWN else ""
        said.append(
            f"{_count(len(threads), 'thread')} the cell started ({names}{more}) "
            f"{'was' if len(threads) == 1 else 'were'} still running when it ended, and stopped with it: "
            "what it would still have done or printed is lost. Call .join() on a thread to wait for it."
        )
    children = _running_children()
    if children:
        said.append(
            f"{_count(children, 'child process', 'child processes')} the cell started "
            f"{'was' if children == 1 else 'were'} still running when it ended, and stopped with it. "
            "Wait for a process (proc.wait(), subprocess.run) to keep its work."
        )
    return said


def _running_children() -> int:
    """This process's children that have not exited (zombies are done), from /proc; 0 where the
    kernel does not list children."""
    pids = set()
    try:
        for task in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{task}/children") as listing:
                pids.update(listing.read().split())
    except OSError:
        return 0
    running = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                state = stat.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue  # gone since it was listed
        if state not in ("Z", "X"):
            running += 1
    return running


def _count(number: int, one: str, many: str | None = None) -> str:
    return f"{number} {one if number == 1 else (many or one + 's')}"
