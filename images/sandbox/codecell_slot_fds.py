"""Process executor only: the slot's descriptors and paths, as a run inside a container would see them.

In the process sandbox /mnt/data, /home/sandbox, /run/codecell/* and /tmp are links to
/proc/self/fd/3..8, which the launcher opened (images/sandbox/launcher.py). Loaded from a .pth file in
every Python; does nothing unless CODECELL_SLOT_FDS is set. Two fixes:
- Python's subprocess closes every descriptor above 2 by default, so a Python child would lose them:
  this adds them to pass_fds.
- The kernel names the cwd and resolved paths by the slot's real directory, which changes every run:
  os.getcwd, os.getcwdb and os.path.realpath (so abspath, Path.cwd, Path.resolve) answer with the
  logical path instead (docs/security.md, "/mnt/data").
"""
import os

_names = os.environ.get("CODECELL_SLOT_FDS", "")
_LOGICAL_DIRS = ("/mnt/data", "/home/sandbox", "/run/codecell/in", "/run/codecell/out", "/run/codecell/artifacts", "/tmp")


def _is_open(fd):
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


def _slot_prefixes(slot_fds):
    """(real slot directory, logical path) for each logical directory linked to one of the slot's descriptors."""
    prefixes = []
    for logical in _LOGICAL_DIRS:
        try:
            link = os.readlink(logical)
            number = link[len("/proc/self/fd/"):] if link.startswith("/proc/self/fd/") else ""
            if not number.isdigit() or int(number) not in slot_fds:
                continue
            real = os.readlink(link)
        except OSError:
            continue  # not a link here (a Docker container or bubblewrap mounts the real directory)
        if real.startswith("/") and real != logical:
            prefixes.append((real, logical))
    return sorted(prefixes, key=lambda pair: len(pair[0]), reverse=True)


def _install_logical_paths(prefixes):
    def to_logical(path):
        for real, logical in prefixes:
            if path == real or path.startswith(real + "/"):
                return logical + path[len(real):]
        return path

    def to_logical_any(path):
        return os.fsencode(to_logical(os.fsdecode(path))) if isinstance(path, bytes) else to_logical(path)

    getcwd, getcwdb, realpath = os.getcwd, os.getcwdb, os.path.realpath

    def logical_getcwd():
        return to_logical(getcwd())

    def logical_getcwdb():
        return os.fsencode(to_logical(os.fsdecode(getcwdb())))

    def logical_realpath(*args, **kwargs):
        return to_logical_any(realpath(*args, **kwargs))

    for wrapper, original in ((logical_getcwd, getcwd), (logical_getcwdb, getcwdb), (logical_realpath, realpath)):
        wrapper.__name__, wrapper.__doc__ = original.__name__, original.__doc__
    os.getcwd, os.getcwdb, os.path.realpath = logical_getcwd, logical_getcwdb, logical_realpath


if _names:
    import subprocess

    _slot_fds = tuple(int(number) for number in _names.split(",") if number.isdigit())
    _popen_init = subprocess.Popen.__init__

    def _init_keeping_slot_fds(self, *args, pass_fds=(), **kwargs):
        kept = tuple(fd for fd in _slot_fds if _is_open(fd))
        _popen_init(self, *args, pass_fds=tuple(pass_fds) + kept, **kwargs)

    subprocess.Popen.__init__ = _init_keeping_slot_fds
    _slot_prefixes_found = _slot_prefixes(_slot_fds)
    if _slot_prefixes_found:
        _install_logical_paths(_slot_prefixes_found)
