/**
 * The one place where an execution container's configuration is made. It is built from validated
 * settings and host paths the server chose — never from request input, never from the server's own
 * environment — and it is the hardening:
 *
 *   network      none: no interface but lo, no route, no resolver but the container's own loopback
 *   file system  read-only root; size-capped tmpfs for /tmp, artifacts and /dev/shm; the only host
 *                paths are the slot's four directories (the session's own files, home and snapshot)
 *   privileges   uid 10001, no capabilities, no-new-privileges (setuid bits are inert), a seccomp
 *                profile tighter than Docker's default (see SECCOMP_PROFILE)
 *   resources    memory with swap included, a CPU quota, a pids limit, open files, file size; the
 *                sandbox is the kernel's first choice when the whole host runs out of memory
 *   processes    an init (docker-init) as pid 1 reaps orphans, and killing it takes the whole tree
 *
 * docs/security.md explains each layer and what it stops; test/security/ attacks them.
 */
import type { ContainerCreateOptions, HostConfig } from 'dockerode';
import type { Settings } from '../../config/settings.js';
import { isOneShotPool, preloadFor, runtimeOf, type PoolKey } from '../pool-key.js';
import { SANDBOX_GID, SANDBOX_UID } from '../../sandbox-user.js';
import { limitsEnv } from './limits-env.js';

export const CONTAINER_LABEL = 'codecell';
export const INSTANCE_LABEL = 'codecell.instance';
export const POOL_LABEL = 'codecell.pool';
/** The session's own home (its slot's home/, kept with the session), not under /mnt/data. */
export const SANDBOX_HOME = '/home/sandbox';

export interface SlotMounts {
  readonly dataDir: string;
  readonly homeDir: string;
  readonly inDir: string;
  readonly outDir: string;
}

/**
 * The complete environment of an execution container. Nothing of the server's own environment
 * (API keys, signing key, cloud credentials) is ever added: this list is all there is.
 */
function sandboxEnv(settings: Settings, pool: PoolKey): string[] {
  return [
    `HOME=${SANDBOX_HOME}`,
    'LANG=C.UTF-8',
    'PYTHONUNBUFFERED=1',
    'PYTHONDONTWRITEBYTECODE=1',
    `CODECELL_PRELOAD=${preloadFor(pool).join(',')}`,
    ...limitsEnv(settings.limits),
  ];
}

/**
 * Seccomp: Docker's default profile as it applies to a container without capabilities (every rule
 * that needs one is left out, since CapDrop is ALL), made tighter where a network-less code
 * interpreter loses nothing:
 *
 *   - io_uring_setup/enter/register: refused. Docker allowed them until 25.0; io_uring has been a
 *     steady source of kernel privilege escalations, and nothing in the images needs it (libuv
 *     falls back to its thread pool).
 *   - kernel AIO (io_setup, io_submit, io_getevents, io_pgetevents, io_cancel, io_destroy): refused
 *     with ENOSYS, as on a kernel without it (glibc's POSIX aio uses threads, libaio users fall back).
 *     An O_DIRECT write in flight is the block layer's, not a process's: freezing the container at
 *     the end of a run (cgroup-freezer.ts) would not stop it from landing after the last look.
 *   - ptrace, process_vm_readv/writev: refused (Docker allows them on kernels ≥ 4.8). Only useful
 *     for debuggers, which the images do not carry; one kernel attack surface less.
 *   - socket() only for AF_UNIX, AF_INET, AF_INET6 and AF_NETLINK (Docker allows all but AF_VSOCK),
 *     socketpair() only for AF_UNIX: the rarely used families (AF_ALG, AF_TIPC, AF_RDS, AF_CAN, …)
 *     are where socket bugs live.
 *   - fallocate only without FALLOC_FL_KEEP_SIZE (which PUNCH_HOLE needs too), else EOPNOTSUPP, as
 *     on a file system without it: space reserved past a file's end is on disk but not in its size,
 *     out of reach of RLIMIT_FSIZE. An allocation that grows the file stays bounded by that limit.
 *   - setxattr, lsetxattr, fsetxattr: EOPNOTSUPP, as on a file system without extended attributes
 *     (copies then skip them, as Python's shutil does). Each one may take a block of the disk of its
 *     own, beside the file's bytes; user code has no need to store them.
 *   - native system calls only: no 32-bit (x86, x32, arm) entry points, whose compat paths are a
 *     separate, less-tested attack surface. No image runs a 32-bit binary.
 *
 * Everything outside the list fails with EPERM. runc ignores names the host's libseccomp does not
 * know, so one list serves old and new kernels. gVisor (CODECELL_RUNTIME=runsc) implements the
 * system calls itself, in user space, and does not use this profile: there the quota's measure
 * (files/usage.ts counts allocated blocks) is what bounds the two above.
 */
const ALLOWED_SYSCALLS = `
  accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown clock_adjtime
  clock_getres clock_gettime clock_nanosleep close close_range connect copy_file_range creat dup dup2
  dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait
  epoll_wait_old eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64
  fanotify_mark fchdir fchmod fchmodat fchmodat2 fchown fchownat fcntl fdatasync fgetxattr
  flistxattr flock fork fremovexattr fstat fstatfs fsync ftruncate futex futex_requeue
  futex_wait futex_waitv futex_wake futimesat getcpu getcwd getdents getdents64 getegid geteuid getgid
  getgroups getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid
  getresuid getrlimit get_robust_list getrusage getsid getsockname getsockopt get_thread_area gettid
  gettimeofday getuid getxattr inotify_add_watch inotify_init inotify_init1 inotify_rm_watch
  ioctl ioprio_get ioprio_set ipc kill
  landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown lgetxattr link linkat listen
  listxattr llistxattr lremovexattr lseek lstat madvise map_shadow_stack membarrier
  memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap mprotect
  mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedsend mq_unlink mremap msgctl msgget msgrcv
  msgsnd msync munlock munlockall munmap name_to_handle_at nanosleep newfstatat open openat openat2
  pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll prctl
  pread64 preadv preadv2 prlimit64 process_mrelease pselect6 pwrite64 pwritev pwritev2 read readahead
  readlink readlinkat readv recvfrom recvmmsg recvmsg remap_file_pages removexattr rename renameat
  renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo
  rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_tgsigqueueinfo sched_getaffinity sched_getattr
  sched_getparam sched_get_priority_max sched_get_priority_min sched_getscheduler
  sched_rr_get_interval sched_setaffinity sched_setattr sched_setparam sched_setscheduler sched_yield
  seccomp select semctl semget semop semtimedop sendfile sendmmsg sendmsg sendto setfsgid setfsuid
  setgid setgroups setitimer setpgid setpriority setregid setresgid setresuid setreuid setrlimit
  set_robust_list setsid setsockopt set_thread_area set_tid_address setuid shmat shmctl shmdt
  shmget shutdown sigaltstack signalfd signalfd4 splice stat statfs statx
  symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time timer_create timer_delete
  timer_getoverrun timer_gettime timer_settime timerfd_create timerfd_gettime timerfd_settime times
  tkill truncate umask uname unlink unlinkat utime utimensat utimes vfork vmsplice wait4 waitid write
  writev
  arch_prctl modify_ldt
`
  .split(/\s+/)
  .filter((name) => name.length > 0);

const AF_UNIX = 1;
const AF_INET = 2;
const AF_INET6 = 10;
const AF_NETLINK = 16;
const FALLOC_FL_KEEP_SIZE = 0x1;
const EOPNOTSUPP = 95;
const ENOSYS = 38;
/** CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET: new namespaces need CAP_SYS_ADMIN. */
const CLONE_NAMESPACE_FLAGS = 0x7e020000;
/** personality() values Docker allows: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32, query. */
const PERSONALITIES = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

export interface SeccompArg {
  readonly index: number;
  readonly value: number;
  readonly valueTwo?: number;
  readonly op: 'SCMP_CMP_EQ' | 'SCMP_CMP_MASKED_EQ';
}

export interface SeccompRule {
  readonly names: readonly string[];
  readonly action: 'SCMP_ACT_ALLOW' | 'SCMP_ACT_ERRNO';
  readonly args?: readonly SeccompArg[];
  readonly errnoRet?: number;
}

/** Docker's seccomp profile format (moby profiles/seccomp), as much of it as is used here. */
export interface SeccompProfile {
  readonly defaultAction: 'SCMP_ACT_ERRNO';
  readonly defaultErrnoRet: number;
  readonly archMap: ReadonlyArray<{ readonly architecture: string; readonly subArchitectures: readonly string[] }>;
  readonly syscalls: readonly SeccompRule[];
}

function allowWhen(name: string, args: SeccompArg[]): SeccompRule {
  return { names: [name], action: 'SCMP_ACT_ALLOW', args };
}

export const SECCOMP_PROFILE: SeccompProfile = {
  defaultAction: 'SCMP_ACT_ERRNO',
  defaultErrnoRet: 1,
  // Native calls only: an empty list of sub-architectures leaves out x86/x32 on amd64 and arm on arm64.
  archMap: [
    { architecture: 'SCMP_ARCH_X86_64', subArchitectures: [] },
    { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: [] },
  ],
  syscalls: [
    { names: ALLOWED_SYSCALLS, action: 'SCMP_ACT_ALLOW' },
    ...[AF_UNIX, AF_INET, AF_INET6, AF_NETLINK].map((family) =>
      allowWhen('socket', [{ index: 0, value: family, op: 'SCMP_CMP_EQ' }]),
    ),
    allowWhen('socketpair', [{ index: 0, value: AF_UNIX, op: 'SCMP_CMP_EQ' }]),
    ...PERSONALITIES.map((value) => allowWhen('personality', [{ index: 0, value, op: 'SCMP_CMP_EQ' }])),
    // clone without namespace flags (fork, threads); clone3 says "not implemented" so libc falls back to clone.
    allowWhen('clone', [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }]),
    { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
    { names: ['io_setup', 'io_submit', 'io_getevents', 'io_pgetevents', 'io_cancel', 'io_destroy'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
    allowWhen('fallocate', [{ index: 1, value: FALLOC_FL_KEEP_SIZE, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }]),
    {
      names: ['fallocate'],
      action: 'SCMP_ACT_ERRNO',
      errnoRet: EOPNOTSUPP,
      args: [{ index: 1, value: FALLOC_FL_KEEP_SIZE, valueTwo: FALLOC_FL_KEEP_SIZE, op: 'SCMP_CMP_MASKED_EQ' }],
    },
    { names: ['setxattr', 'lsetxattr', 'fsetxattr'], action: 'SCMP_ACT_ERRNO', errnoRet: EOPNOTSUPP },
  ],
};

const SECCOMP_OPTION = `seccomp=${JSON.stringify(SECCOMP_PROFILE)}`;

/** Engine API fields @types/dockerode does not declare yet (API 1.41, Docker 20.10). */
type HardenedHostConfig = HostConfig & { CgroupnsMode?: 'private' | 'host' };

/** Everything but the mounts: the hardening every container Codecell starts gets. */
function hardenedHostConfig(settings: Settings): HardenedHostConfig {
  const { limits } = settings;
  return {
    // With the network disabled Docker writes no /etc/resolv.conf or /etc/hosts (the host's resolver
    // is not disclosed), and a lookup falls back to the container's own loopback, where nothing listens.
    NetworkMode: 'none',
    ReadonlyRootfs: true,
    CapDrop: ['ALL'],
    SecurityOpt: ['no-new-privileges:true', SECCOMP_OPTION],
    Privileged: false,
    Init: true,
    IpcMode: 'private',
    // Its own cgroup namespace: /proc/self/cgroup no longer shows the host's cgroup paths.
    CgroupnsMode: 'private',
    Memory: limits.memoryBytes,
    MemorySwap: limits.memoryBytes,
    // When the whole host runs short of memory the kernel kills sandbox processes, not the server.
    OomScoreAdj: 1000,
    NanoCpus: limits.nanoCpus,
    PidsLimit: limits.pidsLimit,
    // No nproc limit on purpose: RLIMIT_NPROC counts every process of uid 10001 on the host, so one
    // session could use up another's. The pids limit is per container.
    Ulimits: [
      { Name: 'nofile', Soft: 1024, Hard: 1024 },
      // No single file may outgrow the session quota.
      { Name: 'fsize', Soft: limits.sessionQuotaBytes, Hard: limits.sessionQuotaBytes },
      { Name: 'core', Soft: 0, Hard: 0 },
    ],
    // Docker mounts these noexec. Their pages count against the memory limit.
    Tmpfs: {
      '/tmp': `rw,nosuid,nodev,size=${limits.tmpfsBytes},mode=1777`,
      '/run/codecell/artifacts': `rw,nosuid,nodev,size=${limits.artifactsBytes},mode=1777`,
    },
    ShmSize: Math.min(limits.tmpfsBytes, 64 * 1024 * 1024),
    // Output is read over the attach stream; a log driver would copy floods to the host's disk.
    LogConfig: { Type: 'none', Config: {} },
    AutoRemove: false,
    ...(settings.docker.runtime === 'runsc' ? { Runtime: 'runsc' } : {}),
  };
}

/** Where the one-shot runner writes sources and compiles them: private to the run, never /mnt/data. */
export const ONE_SHOT_BUILD_DIR = '/run/codecell/build';
/** Room for a compiler's output (Go's build cache, a Rust binary), at least; its pages count as memory. */
const MIN_BUILD_TMPFS_BYTES = 256 * 1024 * 1024;

/**
 * The one-shot build directory: a tmpfs like /tmp, but mounted exec, since the compiled program
 * runs from it (Docker mounts tmpfs noexec unless told otherwise). Docker gives the mount the mode
 * of the image's directory (1777 in the one-shot images), not the `mode` option. Its size is
 * capped by the memory limit anyway, as tmpfs pages are charged to the container.
 */
function buildTmpfsOptions(settings: Settings): string {
  const { limits } = settings;
  const size = Math.min(Math.max(limits.tmpfsBytes, MIN_BUILD_TMPFS_BYTES), limits.memoryBytes);
  return `rw,exec,nosuid,nodev,size=${size},mode=1777`;
}

export function containerSpec(
  settings: Settings,
  instanceId: string,
  pool: PoolKey,
  slot: SlotMounts,
): ContainerCreateOptions {
  const hardened = hardenedHostConfig(settings);
  return {
    Image: imageFor(settings, pool),
    Env: sandboxEnv(settings, pool),
    User: `${SANDBOX_UID}:${SANDBOX_GID}`,
    WorkingDir: '/mnt/data',
    Labels: { [CONTAINER_LABEL]: 'true', [INSTANCE_LABEL]: instanceId, [POOL_LABEL]: pool },
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    OpenStdin: true,
    StdinOnce: true,
    Tty: false,
    NetworkDisabled: true,
    StopTimeout: 1,
    HostConfig: {
      ...hardened,
      ...(isOneShotPool(pool) ? { Tmpfs: { ...hardened.Tmpfs, [ONE_SHOT_BUILD_DIR]: buildTmpfsOptions(settings) } } : {}),
      // The only host paths: the slot's. No Docker socket, nothing else of the host.
      Binds: [
        `${slot.dataDir}:/mnt/data:rw`,
        `${slot.homeDir}:${SANDBOX_HOME}:rw`,
        `${slot.inDir}:/run/codecell/in:ro`,
        `${slot.outDir}:/run/codecell/out:rw`,
      ],
    },
  };
}

/**
 * A short-lived container that runs one fixed command of an execution image (the system-info
 * probe): the same hardening and runtime as an execution container, and no host path at all.
 */
export function probeContainerSpec(
  settings: Settings,
  instanceId: string,
  image: string,
  command: readonly string[],
): ContainerCreateOptions {
  return {
    Image: image,
    Entrypoint: command.slice(0, 1),
    Cmd: command.slice(1),
    Env: ['HOME=/tmp', 'LANG=C.UTF-8'],
    User: `${SANDBOX_UID}:${SANDBOX_GID}`,
    Labels: { [CONTAINER_LABEL]: 'true', [INSTANCE_LABEL]: instanceId },
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    NetworkDisabled: true,
    HostConfig: hardenedHostConfig(settings),
  };
}

export function imageFor(settings: Settings, pool: PoolKey): string {
  return `${settings.docker.imagePrefix}-${runtimeOf(pool)}:latest`;
}
