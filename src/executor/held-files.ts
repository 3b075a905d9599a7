/**
 * Bytes a run's processes keep on disk in files that no longer have a name. A file deleted while it
 * is open (or mapped) keeps its blocks until the last holder lets go, and no walk of the session's
 * folders sees it: without this count a run could hold gigabytes under a 20 MiB quota until its
 * timeout (a file per descriptor, each up to RLIMIT_FSIZE, 1024 descriptors in each of 128 processes).
 *
 * Counted: regular files with no link left, on one of the given devices (those of the watched
 * folders: a tmpfs elsewhere has its own size cap), that a listed process holds through a
 * descriptor (/proc/PID/task/TID/fd) or a mapping (/proc/PID/maps, then /proc/PID/map_files), each inode
 * once, measured as files/usage.ts measures a file.
 *
 * A few descriptors and mappings are read here, synchronously: procfs is kernel memory and each
 * look takes microseconds, where a child process costs milliseconds. Past IN_PROCESS_MAX_ENTRIES
 * descriptors, or a maps listing past IN_PROCESS_MAX_MAPS_BYTES, the count goes to GNU find in a
 * child process instead, so a run that opens 100,000 descriptors never holds the event loop for the
 * ~100 ms their stats take. Hand-written: no npm package reads procfs for deleted open files.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readSync, readdirSync, statSync, type BigIntStats } from 'node:fs';
import { errnoOf } from '../errno.js';
import { entryBytes } from '../files/usage.js';

/** Descriptors read in this process, at most; more go to find. */
const IN_PROCESS_MAX_ENTRIES = 1024;
/** A maps listing longer than this (about 10,000 mappings) goes to find as well. */
const IN_PROCESS_MAX_MAPS_BYTES = 1 << 20;

/** One line per file find reaches through a link: link count, device:inode, size, allocated blocks. */
const FIND_FORMAT = '%n %D:%i %s %b\\n';

/** The processes whose held files count: host pids. */
export interface HolderProcesses {
  readonly pids: readonly number[];
  /**
   * True when every thread of each process shares the process's descriptor table, so the table is
   * read once per process (a runtime's own processes). False for processes user code runs as: a
   * thread made with clone() without CLONE_FILES has a table of its own, so each thread's is read.
   */
  readonly threadsShareDescriptors: boolean;
}

/** Bytes held in unnamed files on `devices` by `holders`. */
export async function measureHeldFiles(holders: HolderProcesses, devices: ReadonlySet<bigint>): Promise<number> {
  if (holders.pids.length === 0 || devices.size === 0) return 0;
  const tables = holders.pids.map((pid) => ({ pid, descriptors: holders.threadsShareDescriptors ? [`/proc/${pid}/fd`] : threadTables(pid) }));
  return readInProcess(tables, devices) ?? (await readWithFind(tables, devices));
}

/** A process and the descriptor folders to read for it. */
export interface DescriptorTables {
  readonly pid: number;
  readonly descriptors: readonly string[];
}

/** The device numbers of `dirs` (those that exist), as find's %D and stat's st_dev give them. */
export function devicesOf(dirs: readonly string[]): Set<bigint> {
  const devices = new Set<bigint>();
  for (const dir of dirs) {
    const stat = statSync(dir, { bigint: true, throwIfNoEntry: false });
    if (stat !== undefined) devices.add(stat.dev);
  }
  return devices;
}

/** The count read here; null when there is too much to read without holding the event loop. */
export function readInProcess(processes: readonly DescriptorTables[], devices: ReadonlySet<bigint>): number | null {
  const held = new Map<string, number>();
  const count = (stat: BigIntStats | undefined): void => {
    if (stat === undefined || !stat.isFile() || stat.nlink !== 0n || !devices.has(stat.dev)) return;
    held.set(`${stat.dev}:${stat.ino}`, entryBytes('f', Number(stat.size), Number(stat.blocks)));
  };
  let entries = 0;
  for (const { pid, descriptors } of processes) {
    for (const table of descriptors) {
      const fds = listOrEmpty(table);
      entries += fds.length;
      if (entries > IN_PROCESS_MAX_ENTRIES) return null;
      for (const fd of fds) count(statOrUndefined(`${table}/${fd}`));
    }
    const maps = readMaps(pid);
    if (maps === null) return null;
    for (const range of deletedMappings(maps, devices)) {
      entries += 1;
      if (entries > IN_PROCESS_MAX_ENTRIES) return null;
      count(statOrUndefined(`/proc/${pid}/map_files/${range}`));
    }
  }
  return [...held.values()].reduce((sum, bytes) => sum + bytes, 0);
}

/**
 * The address ranges of file mappings in a /proc/PID/maps listing whose file was deleted and lies
 * on one of `devices`. The kernel escapes newlines in the names it lists, so each line is one
 * mapping; the name's " (deleted)" only picks candidates: the stat behind decides.
 */
export function deletedMappings(maps: string, devices: ReadonlySet<bigint>): string[] {
  const ranges = new Set<string>();
  for (const line of maps.split('\n')) {
    if (!line.endsWith(' (deleted)')) continue;
    // start-end perms offset major:minor inode name
    const [range, , , device, inode] = line.split(/\s+/, 5);
    if (range === undefined || device === undefined || inode === undefined || inode === '0') continue;
    const [major, minor] = device.split(':').map((part) => Number.parseInt(part, 16));
    if (major === undefined || minor === undefined || Number.isNaN(major) || Number.isNaN(minor)) continue;
    if (devices.has(encodeDevice(major, minor))) ranges.add(range);
  }
  return [...ranges];
}

/** Linux's st_dev of a major:minor pair (glibc's makedev). */
export function encodeDevice(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffn) << 8n) | ((ma & ~0xfffn) << 32n) | (mi & 0xffn) | ((mi & ~0xffn) << 12n);
}

/**
 * The descriptor folders of every thread of `pid`: a thread made with clone() without CLONE_FILES
 * has a table of its own, which /proc/PID/fd (the leader's) does not show. Threads always share
 * their mappings, so those are read once per process.
 */
export function threadTables(pid: number): string[] {
  return listOrEmpty(`/proc/${pid}/task`).map((task) => `/proc/${pid}/task/${task}/fd`);
}

/** The whole maps listing of `pid` ('' when it is gone), or null when it is too long to read here. */
function readMaps(pid: number): string | null {
  let fd: number;
  try {
    fd = openSync(`/proc/${pid}/maps`, 'r');
  } catch (error) {
    if (isGone(error)) return '';
    throw error;
  }
  try {
    const buffer = Buffer.alloc(IN_PROCESS_MAX_MAPS_BYTES + 1);
    let length = 0;
    for (;;) {
      const read = readSync(fd, buffer, length, buffer.length - length, null);
      if (read === 0) break;
      length += read;
      if (length > IN_PROCESS_MAX_MAPS_BYTES) return null;
    }
    return buffer.toString('utf8', 0, length);
  } catch (error) {
    if (isGone(error)) return '';
    throw error;
  } finally {
    closeSync(fd);
  }
}

function listOrEmpty(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (error) {
    if (isGone(error)) return [];
    throw error;
  }
}

function statOrUndefined(link: string): BigIntStats | undefined {
  try {
    return statSync(link, { bigint: true, throwIfNoEntry: false });
  } catch (error) {
    // A descriptor closed, or a process gone, since its directory was listed.
    if (isGone(error)) return undefined;
    throw error;
  }
}

/**
 * What a process or descriptor that has gone since it was listed gives, or one this server may not
 * look into (a server that is not root, and a process that made itself undumpable): skipped.
 */
function isGone(error: unknown): boolean {
  const code = errnoOf(error);
  return code === 'ENOENT' || code === 'ESRCH' || code === 'EACCES' || code === 'EPERM';
}

/** The same count by find in a child process: it follows each descriptor and mapping to its file. */
function readWithFind(processes: readonly DescriptorTables[], devices: ReadonlySet<bigint>): Promise<number> {
  return new Promise((resolve, reject) => {
    const dirs = processes.flatMap(({ pid, descriptors }) => [...descriptors, `/proc/${pid}/map_files`]);
    const child = spawn('find', ['-L', ...dirs, '-mindepth', '1', '-maxdepth', '1', '-type', 'f', '-links', '0', '-printf', FIND_FORMAT], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const held = new Map<string, number>();
    let rest = '';
    const countLine = (line: string): void => {
      const [links, inode, size, blocks] = line.split(' ');
      if (links !== '0' || inode === undefined || size === undefined || blocks === undefined) return;
      const device = inode.split(':')[0];
      if (device === undefined || !/^\d+$/.test(device) || !devices.has(BigInt(device))) return;
      held.set(inode, entryBytes('f', Number(size), Number(blocks)));
    };
    child.stdout.setEncoding('latin1');
    child.stdout.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) countLine(line);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (rest.length > 0) countLine(rest);
      // find exits 1 after descriptors or processes that went away while it looked: they hold nothing now.
      if (signal !== null || (code !== 0 && code !== 1)) return reject(new Error(`reading held files failed (find: ${signal ?? `exit ${code}`})`));
      resolve([...held.values()].reduce((sum, bytes) => sum + bytes, 0));
    });
  });
}
