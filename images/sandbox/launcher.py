#!/usr/bin/python3 -IS
"""Confines itself, then execs one runner (the process executor's sandbox, docs/security.md).

    launcher.py probe                  prints what this kernel and this Python allow, as JSON
    launcher.py run                    confines itself as CONFIG says, then execs CONFIG["argv"]; CONFIG is
                                       JSON in $CODECELL_LAUNCH_CONFIG (a command line is readable by every
                                       process through /proc, an environment only ptrace-class)

CONFIG (built by src/executor/process/launch-config.ts):
    mode       "landlock": NO_NEW_PRIVS + Landlock + seccomp + rlimits; the slot's directories are
               opened at fixed descriptors (the image links /mnt/data and friends to /proc/self/fd/N)
               "bwrap": already inside bubblewrap's namespaces: seccomp + rlimits only
               "weak": rlimits only (the server allowed it with CODECELL_ALLOW_WEAK_SANDBOX)
    slotFds    {"3": "/data/slots/x/data", ...}: directory opened at that descriptor
    writable   directories (and files) the run may change; readable: what it may only read and run
    rlimits    {"RLIMIT_DATA": n, ...}
    uid, gid   drop to these first when running as root (null: keep)
    lockMetadata  true when the runner keeps the server's uid: chmod, chown and xattrs by path
               are refused (Landlock does not govern metadata, and that uid owns the server's data)
    env        the complete environment of the runner (nothing of the server's)
    cwd, argv  where and what to exec

Python with ctypes because the image has Python anyway and Debian's python3-seccomp compiles the
filter; nothing here runs after the exec.
"""
import ctypes
import errno
import fcntl
import json
import os
import resource
import signal
import sys

SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1
PR_SET_NO_NEW_PRIVS = 38
PR_SET_PDEATHSIG = 1

# Filesystem rights by the ABI that introduced them (uapi/linux/landlock.h).
FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REMOVE_DIR = 1 << 4
FS_REMOVE_FILE = 1 << 5
FS_MAKE_CHAR = 1 << 6
FS_MAKE_DIR = 1 << 7
FS_MAKE_REG = 1 << 8
FS_MAKE_SOCK = 1 << 9
FS_MAKE_FIFO = 1 << 10
FS_MAKE_BLOCK = 1 << 11
FS_MAKE_SYM = 1 << 12
FS_REFER = 1 << 13  # ABI 2
FS_TRUNCATE = 1 << 14  # ABI 3
FS_IOCTL_DEV = 1 << 15  # ABI 5
NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1

FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV
READ_RIGHTS = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


class RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


class PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # the kernel's struct is packed
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_abi():
    abi = libc.syscall(SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION))
    return abi if abi > 0 else 0


def fs_rights(abi):
    rights = (1 << 13) - 1
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


def check(result, what):
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")
    return result


def restrict_landlock(abi, readable, writable):
    handled = fs_rights(abi)
    attr = RulesetAttr(handled, (NET_BIND_TCP | NET_CONNECT_TCP) if abi >= 4 else 0,
                       (SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL) if abi >= 6 else 0)
    size = ctypes.sizeof(RulesetAttr) if abi >= 6 else (16 if abi >= 4 else 8)
    ruleset = check(libc.syscall(SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0)), "landlock_create_ruleset")
    try:
        for paths, rights in ((readable, READ_RIGHTS), (writable, handled)):
            for path in paths:
                try:
                    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
                except FileNotFoundError:
                    continue
                try:
                    allowed = rights if os.path.isdir(f"/proc/self/fd/{fd}") else rights & FILE_RIGHTS & handled
                    rule = PathBeneathAttr(allowed, fd)
                    check(libc.syscall(SYS_LANDLOCK_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(LANDLOCK_RULE_PATH_BENEATH), ctypes.byref(rule), ctypes.c_uint32(0)), f"landlock_add_rule {path}")
                finally:
                    os.close(fd)
        check(libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)), "landlock_restrict_self")
    finally:
        os.close(ruleset)


# Socket families code may open: only AF_UNIX (pipes between its own processes). No inet, inet6, packet, netlink.
AF_UNIX = 1
CLONE_NEW_FLAGS = 0x7E020000 | 0x00000080  # NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET, NEWTIME
TIOCSTI = 0x5412
DENIED_SYSCALLS = (
    "ptrace", "process_vm_readv", "process_vm_writev", "mount", "umount2", "unshare", "setns", "bpf", "keyctl",
    "add_key", "request_key", "perf_event_open", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "setsid", "setpgid", "userfaultfd", "pidfd_getfd", "kcmp", "open_by_handle_at", "name_to_handle_at",
    "fanotify_init", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
    "pivot_root", "chroot", "acct", "swapon", "swapoff", "reboot", "syslog", "kexec_load", "kexec_file_load",
    "init_module", "finit_module", "delete_module", "quotactl", "vhangup", "personality", "uselib",
    # System V IPC outlives the run's processes and its memory counts against no rlimit.
    "shmget", "semget", "msgget",
)


# Changing a file's mode, owner or xattrs by path: Landlock lets these through anywhere the path resolves
# (chmod 000 on the server's data dir). Their fd forms (fchmod, fchown, fsetxattr) stay allowed: they
# need a file opened under Landlock's rules. Times by path stay allowed (tar sets them; nothing reads them).
METADATA_SYSCALLS = (
    "chmod", "fchmodat", "chown", "lchown", "fchownat", "setxattr", "lsetxattr", "removexattr", "lremovexattr",
)
# Newer than Debian 12's libseccomp, so by number (the same on every architecture since 424).
METADATA_SYSCALL_NUMBERS = {"fchmodat2": 452, "setxattrat": 463, "removexattrat": 466, "file_setattr": 469}


def import_seccomp():
    # Started with -S (no site: a tenth of a runner's start-up), so Debian's dist-packages is added by hand.
    if DIST_PACKAGES not in sys.path:
        sys.path.append(DIST_PACKAGES)
    import seccomp  # Debian's python3-seccomp

    return seccomp


DIST_PACKAGES = "/usr/lib/python3/dist-packages"


def deny_metadata_by_path(seccomp, flt):
    eperm = seccomp.ERRNO(errno.EPERM)
    for name in METADATA_SYSCALLS:
        flt.add_rule(eperm, name)
    for name, number in METADATA_SYSCALL_NUMBERS.items():
        known = seccomp.resolve_syscall(seccomp.Arch.NATIVE, name)
        flt.add_rule(eperm, known if known >= 0 else number)


def install_seccomp(lock_metadata):
    seccomp = import_seccomp()

    flt = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    eperm = seccomp.ERRNO(errno.EPERM)
    for name in DENIED_SYSCALLS:
        try:
            flt.add_rule(eperm, name)
        except (RuntimeError, ValueError, OSError):
            pass  # not a system call on this architecture or this libseccomp
    flt.add_rule(seccomp.ERRNO(errno.EAFNOSUPPORT), "socket", seccomp.Arg(0, seccomp.NE, AF_UNIX))
    flt.add_rule(eperm, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_NEW_FLAGS, CLONE_NEW_FLAGS))
    # clone3 passes its flags in memory a filter cannot read: "not implemented" makes libc use clone.
    flt.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    flt.add_rule(eperm, "ioctl", seccomp.Arg(1, seccomp.MASKED_EQ, 0xFFFFFFFF, TIOCSTI))
    if lock_metadata:
        deny_metadata_by_path(seccomp, flt)
    flt.load()


def probe():
    report = {"landlockAbi": landlock_abi(), "seccomp": False, "noNewPrivs": False, "uid": os.getuid(), "python": sys.version.split()[0]}
    try:
        import_seccomp()
        report["seccomp"] = True
    except ImportError as error:
        report["seccompError"] = str(error)
    report["noNewPrivs"] = libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
    print(json.dumps(report))
    return 0


def run(config):
    # The runner dies with the server (a crash must not leave runs writing into slots that recovery empties).
    parent = os.getppid()
    check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PDEATHSIG)")
    if os.getppid() != parent:
        raise OSError(errno.ESRCH, "the server is gone")
    slot_fds = {int(number): path for number, path in config.get("slotFds", {}).items()}
    # Opened above the fixed numbers first, so that no directory lands on another's number by chance.
    opened = {}
    for number, path in slot_fds.items():
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | os.O_NOFOLLOW)
        opened[number] = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 64)
        os.close(fd)
    for number, fd in opened.items():
        os.dup2(fd, number, inheritable=True)
        os.close(fd)
    if os.getuid() == 0 and config.get("uid") is not None:
        os.setgroups([])
        os.setresgid(config["gid"], config["gid"], config["gid"])
        os.setresuid(config["uid"], config["uid"], config["uid"])
    for name, value in config.get("rlimits", {}).items():
        resource.setrlimit(getattr(resource, name), (value, value))
    check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
    mode = config["mode"]
    if mode == "landlock":
        abi = landlock_abi()
        if abi < 1:
            raise OSError(errno.ENOSYS, "Landlock is not available")
        restrict_landlock(abi, config.get("readable", []), config.get("writable", []))
    if mode in ("landlock", "bwrap"):
        install_seccomp(bool(config.get("lockMetadata")))
    os.chdir(config["cwd"])
    argv = config["argv"]
    os.execve(argv[0], argv, config["env"])


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "probe":
        return probe()
    if len(sys.argv) != 2 or sys.argv[1] != "run" or "CODECELL_LAUNCH_CONFIG" not in os.environ:
        print("usage: CODECELL_LAUNCH_CONFIG=JSON launcher.py run | launcher.py probe", file=sys.stderr)
        return 2
    try:
        run(json.loads(os.environ.pop("CODECELL_LAUNCH_CONFIG")))
    except Exception as error:  # noqa: BLE001 - one line for the server's log, never a half-confined exec
        print(f"codecell launcher: {type(error).__name__}: {error}", file=sys.stderr)
        return 126
    return 0


if __name__ == "__main__":
    sys.exit(main())
