/**
 * Bytes a run's processes keep on disk in files that no longer have a name. A file deleted while it
 * is open (or mapped) keeps its blocks until the last holder lets go, and no walk of the session's
 * folders sees it: without this count a run could hold gigabytes under a 20 MiB quota until its
 * timeout (a file per descriptor, each up to RLIMIT_FSIZE, 1024 descriptors in each of 128 processes).
 *
 * Counted: regular files with no link left, on one of the given devices (those of the watched
 * folders: a tmpfs elsewhere has its own size cap), that a listed process holds through a
 * descriptor (/proc/PID/task/TID/fd) or a mapping (the maps, then map_files, of a live thread), each
 * inode once, measured as files/usage.ts measures a file.
 *
 * A few descriptors and mappings are read here, synchronously: procfs is kernel memory and each
 * look takes microseconds, where a child process costs milliseconds. Past IN_PROCESS_MAX_ENTRIES
 * descriptors, or maps listings past IN_PROCESS_MAX_MAPS_BYTES in all, the count goes to GNU find in
 * a child process instead, so a run that opens 100,000 descriptors, or maps a file hundreds of times
 * in a hundred processes, never holds the event loop for the time the kernel takes to list them.
 * Hand-written: no npm package reads procfs for deleted open files.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, readdirSync, statSync, type BigIntStats } from 'node:fs';
import { errnoOf } from '../errno.js';
import { entryBytes } from '../files/usage.js';
import { statFieldsAfterName } from '../proc-stat.js';

/** Descriptors read in this process, at most; more go to find. */
const IN_PROCESS_MAX_ENTRIES = 1024;
/**
 * Bytes of maps listings read in this process in one count, across all processes (a Python process
 * with pandas loaded lists about 100 KB): past it, find counts instead. Every byte of a listing is
 * made by the kernel while the event loop waits.
 */
const IN_PROCESS_MAX_MAPS_BYTES = 256 * 1024;
/** How much one count reads in this process at most (tests make them small to reach find). */
export interface InProcessBounds {
  readonly maxEntries: number;
  readonly maxMapsBytes: number;
}

const IN_PROCESS_BOUNDS: InProcessBounds = { maxEntries: IN_PROCESS_MAX_ENTRIES, maxMapsBytes: IN_PROCESS_MAX_MAPS_BYTES };

/** One buffer for every listing read here (a count is synchronous: nothing else uses it meanwhile). */
const mapsBuffer = Buffer.alloc(IN_PROCESS_MAX_MAPS_BYTES + 1);

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
  /**
   * What a held file counts when it cannot be measured (a mapping of a process whose main thread has
   * exited: the kernel serves map_files through the main thread only): the largest a file may be
   * (RLIMIT_FSIZE). A maps listing too long to read then counts twice that.
   */
  readonly largestFileBytes: number;
}

/** A runner's processes, as it lists them (the run flow adds the largest file size). */
export type RunnerProcesses = Pick<HolderProcesses, 'pids' | 'threadsShareDescriptors'>;

/** Bytes held in unnamed files on `devices` by `holders`. */
export async function measureHeldFiles(
  holders: HolderProcesses,
  devices: ReadonlySet<bigint>,
  bounds: InProcessBounds = IN_PROCESS_BOUNDS,
): Promise<number> {
  if (holders.pids.length === 0 || devices.size === 0) return 0;
  const tables = holders.pids.flatMap((pid) => holderTables(pid, holders.threadsShareDescriptors));
  const unmeasured = unmeasuredMappings(tables, devices, holders.largestFileBytes, bounds.maxMapsBytes);
  return unmeasured + (readInProcess(tables, devices, bounds) ?? (await readWithFind(tables, devices)));
}

/** What to read of one process: its descriptor folders, and a live thread's folder for its mappings. */
export interface DescriptorTables {
  readonly descriptors: readonly string[];
  /** /proc/PID/task/TID of a thread that has not exited: its maps listing is the process's. */
  readonly memory: string;
  /** /proc/PID/map_files, to stat a mapped file; null when the main thread has exited (it lists none then). */
  readonly mapFiles: string | null;
}

/**
 * The folders to read for `pid`, [] once it is gone. Mappings are listed through a live thread: a
 * process whose main thread has exited (while another runs on) lists no mappings under /proc/PID.
 */
export function holderTables(pid: number, threadsShareDescriptors: boolean): DescriptorTables[] {
  const tasks = listOrEmpty(`/proc/${pid}/task`);
  const live = [String(pid), ...tasks.filter((task) => task !== String(pid))].find((task) => tasks.includes(task) && isLive(`/proc/${pid}/task/${task}`));
  if (live === undefined) return [];
  const memory = `/proc/${pid}/task/${live}`;
  return [
    {
      descriptors: threadsShareDescriptors ? [`${memory}/fd`] : tasks.map((task) => `/proc/${pid}/task/${task}/fd`),
      memory,
      mapFiles: live === String(pid) ? `/proc/${pid}/map_files` : null,
    },
  ];
}

/**
 * What the mappings of processes without a main thread count: each deleted file on `devices` they
 * map, at `largestFileBytes` (they cannot be measured), each once; a listing longer than `maxBytes`
 * counts twice that, unread.
 */
function unmeasuredMappings(tables: readonly DescriptorTables[], devices: ReadonlySet<bigint>, largestFileBytes: number, maxBytes: number): number {
  const files = new Set<string>();
  let unread = 0;
  let read = 0;
  for (const { memory, mapFiles } of tables) {
    if (mapFiles !== null) continue;
    const maps = readMaps(memory, Math.min(maxBytes, IN_PROCESS_MAX_MAPS_BYTES) - read);
    if (maps === null) {
      unread += 2 * largestFileBytes;
      continue;
    }
    read += maps.length;
    for (const { file } of deletedMappings(maps, devices)) files.add(file);
  }
  return unread + files.size * largestFileBytes;
}

/** False for a thread that has exited (a zombie) or is gone. */
function isLive(task: string): boolean {
  try {
    const state = statFieldsAfterName(readFileSync(`${task}/stat`, 'latin1'))[0] ?? '';
    return state !== 'Z' && state !== 'X' && state !== '';
  } catch {
    return false;
  }
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
export function readInProcess(
  processes: readonly DescriptorTables[],
  devices: ReadonlySet<bigint>,
  bounds: InProcessBounds = IN_PROCESS_BOUNDS,
): number | null {
  const maxEntries = Math.min(bounds.maxEntries, IN_PROCESS_MAX_ENTRIES);
  const maxMapsBytes = Math.min(bounds.maxMapsBytes, IN_PROCESS_MAX_MAPS_BYTES);
  const held = new Map<string, number>();
  const count = (stat: BigIntStats | undefined): void => {
    if (stat === undefined || !stat.isFile() || stat.nlink !== 0n || !devices.has(stat.dev)) return;
    held.set(`${stat.dev}:${stat.ino}`, entryBytes('f', Number(stat.size), Number(stat.blocks)));
  };
  let entries = 0;
  let mapsBytes = 0;
  for (const { descriptors, memory, mapFiles } of processes) {
    for (const table of descriptors) {
      const fds = listOrEmpty(table);
      entries += fds.length;
      if (entries > maxEntries) return null;
      for (const fd of fds) count(statOrUndefined(`${table}/${fd}`));
    }
    if (mapFiles === null) continue; // unmeasuredMappings counts them
    const maps = readMaps(memory, maxMapsBytes - mapsBytes);
    if (maps === null) return null;
    mapsBytes += maps.length;
    for (const { range } of deletedMappings(maps, devices)) {
      entries += 1;
      if (entries > maxEntries) return null;
      count(statOrUndefined(`${mapFiles}/${range}`));
    }
  }
  return [...held.values()].reduce((sum, bytes) => sum + bytes, 0);
}

/** A mapping of a deleted file: its address range (a map_files name) and its file as "device:inode". */
export interface DeletedMapping {
  readonly range: string;
  readonly file: string;
}

/**
 * The file mappings in a /proc/PID/maps listing whose file was deleted and lies on one of
 * `devices`. The kernel escapes newlines in the names it lists, so each line is one mapping; the
 * name's " (deleted)" only picks candidates: where a stat can follow, it decides.
 */
export function deletedMappings(maps: string, devices: ReadonlySet<bigint>): DeletedMapping[] {
  const found = new Map<string, DeletedMapping>();
  for (const line of maps.split('\n')) {
    if (!line.endsWith(' (deleted)')) continue;
    // start-end perms offset major:minor inode name
    const [range, , , device, inode] = line.split(/\s+/, 5);
    if (range === undefined || device === undefined || inode === undefined || !/^[1-9]\d*$/.test(inode)) continue;
    const [major, minor] = device.split(':').map((part) => Number.parseInt(part, 16));
    if (major === undefined || minor === undefined || Number.isNaN(major) || Number.isNaN(minor)) continue;
    const encoded = encodeDevice(major, minor);
    if (devices.has(encoded)) found.set(range, { range, file: `${encoded}:${inode}` });
  }
  return [...found.values()];
}

/** Linux's st_dev of a major:minor pair (glibc's makedev). */
export function encodeDevice(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffn) << 8n) | ((ma & ~0xfffn) << 32n) | (mi & 0xffn) | ((mi & ~0xffn) << 12n);
}

/** The whole maps listing of a thread ('' when it is gone), or null when it is longer than `room` bytes. */
function readMaps(task: string, room: number): string | null {
  let fd: number;
  try {
    fd = openSync(`${task}/maps`, 'r');
  } catch (error) {
    if (isGone(error)) return '';
    throw error;
  }
  try {
    let length = 0;
    for (;;) {
      const read = readSync(fd, mapsBuffer, length, Math.min(room + 1, mapsBuffer.length) - length, null);
      if (read === 0) break;
      length += read;
      if (length > room) return null;
    }
    return mapsBuffer.toString('latin1', 0, length);
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
    const dirs = processes.flatMap(({ descriptors, mapFiles }) => [...descriptors, ...(mapFiles === null ? [] : [mapFiles])]);
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
