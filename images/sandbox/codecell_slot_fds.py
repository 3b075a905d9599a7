"""Process executor only: keep the slot's descriptors open in Python subprocesses.

In the process sandbox /mnt/data, /home/sandbox, /run/codecell/* and /tmp are links to
/proc/self/fd/3..8, which the launcher opened (images/sandbox/launcher.py). Python's subprocess
closes every descriptor above 2 by default, so a Python child would lose them: this adds them to
pass_fds. Loaded from a .pth file in every Python; does nothing unless CODECELL_SLOT_FDS is set.
"""
import os

_names = os.environ.get("CODECELL_SLOT_FDS", "")
if _names:
    import subprocess

    _slot_fds = tuple(int(number) for number in _names.split(",") if number.isdigit())
    _popen_init = subprocess.Popen.__init__

    def _init_keeping_slot_fds(self, *args, pass_fds=(), **kwargs):
        kept = tuple(fd for fd in _slot_fds if _is_open(fd))
        _popen_init(self, *args, pass_fds=tuple(pass_fds) + kept, **kwargs)

    def _is_open(fd):
        try:
            os.fstat(fd)
            return True
        except OSError:
            return False

    subprocess.Popen.__init__ = _init_keeping_slot_fds
