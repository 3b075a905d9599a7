"""Limits of the container that libraries should respect.

BLAS and OpenMP size their thread pools from the number of host CPUs they can see, not from the
container's CPU quota. Under a quota of one CPU on a many-core host they would start dozens of
threads that only contend with each other, so the pools are sized to the quota instead, before
numpy or scikit-learn load (they read these variables once, when they initialise).
The host sets them (and CODECELL_CPU_COUNT) from its settings; the cgroup is the fallback.
os.cpu_count() answers the cap as well: code sizes its process pools from it.
"""
from __future__ import annotations

import math
import os

THREAD_POOL_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")

# cgroup v2 keeps "<quota> <period>" in one file; v1 (as Docker mounts it) in two.
_CGROUP_V2_CPU_MAX = "/sys/fs/cgroup/cpu.max"
_CGROUP_V1_QUOTA = "/sys/fs/cgroup/cpu/cpu.cfs_quota_us"
_CGROUP_V1_PERIOD = "/sys/fs/cgroup/cpu/cpu.cfs_period_us"


def usable_cpus() -> int:
    """CPUs this process may run on, further limited by the cgroup CPU quota when there is one."""
    cpus = len(os.sched_getaffinity(0))
    quota = _cpu_quota()
    if quota is not None:
        cpus = min(cpus, max(1, math.ceil(quota)))
    return cpus


def size_thread_pools() -> None:
    """Sets the thread-pool variables the host has not set itself."""
    cpus = str(usable_cpus())
    for name in THREAD_POOL_VARIABLES:
        os.environ.setdefault(name, cpus)


_cpu_cap: int | None = None


def cpu_count() -> int | None:
    """The CPU cap: what os.cpu_count() answers in the sandbox (a module-level function, so a kept reference pickles)."""
    return _cpu_cap


def report_cpu_cap() -> None:
    """os.cpu_count() (and multiprocessing.cpu_count(), which asks it) answer the CPU cap, not the host's CPUs."""
    global _cpu_cap
    try:
        cap = int(os.environ.get("CODECELL_CPU_COUNT", ""))
    except ValueError:
        return
    if cap <= 0:
        return
    _cpu_cap = cap
    os.cpu_count = cpu_count
    if hasattr(os, "process_cpu_count"):  # Python 3.13
        os.process_cpu_count = cpu_count


def _cpu_quota() -> float | None:
    """The quota in CPUs, or None when unlimited or unknown."""
    try:
        with open(_CGROUP_V2_CPU_MAX) as file:
            quota, period = file.read().split()
    except (OSError, ValueError):
        try:
            with open(_CGROUP_V1_QUOTA) as q, open(_CGROUP_V1_PERIOD) as p:
                quota, period = q.read().strip(), p.read().strip()
        except OSError:
            return None
    if quota in ("max", "-1"):
        return None
    try:
        return int(quota) / int(period)
    except (ValueError, ZeroDivisionError):
        return None
