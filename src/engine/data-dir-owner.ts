/**
 * One live engine per data dir. An engine treats the containers labelled with its data dir and
 * everything left in its slots as its own (crash leftovers at start, its own work at shutdown), so
 * a second engine on the same data dir would kill the first one's runs. At start an engine takes
 * the data dir with an owner record (`<data dir>/owner.json`): its pid, the process start time,
 * the boot id, pid namespace and host name. A record whose process still lives refuses the
 * newcomer; a record whose process is gone (a crash) is taken over, and recovery then rightly
 * cleans up after it.
 *
 * Hand-written rather than a lockfile library: a pid plus its start time tells exactly whether the
 * owner lives; the mtime-based libraries guess from staleness, and Node has no flock(2).
 */
import { randomBytes } from 'node:crypto';
import { promises as fs, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { CodecellError } from '../errors.js';
import { errnoOf } from '../errno.js';

export const OWNER_RECORD_FILE = 'owner.json';

const OwnerRecordSchema = z.object({
  pid: z.number().int().positive(),
  /** Clock ticks after boot (/proc/<pid>/stat field 22): tells a reused pid from the owner. Null off Linux. */
  startTime: z.string().nullable(),
  /** /proc/sys/kernel/random/boot_id: a pid is only meaningful within one boot ... */
  bootId: z.string().nullable(),
  /** ... and within one pid namespace (a container has its own). */
  pidNamespace: z.string().nullable(),
  hostname: z.string(),
  since: z.string(),
});

export type OwnerRecord = z.infer<typeof OwnerRecordSchema>;

/** What a record says about its owner, seen from this process. */
export type OwnerVerdict =
  /** Its process runs (same boot, same pid namespace, same pid and start time). */
  | 'alive'
  /** Provably gone: no such process, a reused pid, or an earlier boot or container of this host. */
  | 'dead'
  /** Written on another host or container: whether it still runs cannot be told from here. */
  | 'foreign';

function readOr(file: string, fallback: string | null): string | null {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return fallback;
  }
}

/** The start time of a process in clock ticks after boot, or null when it does not exist (or no /proc). */
export function processStartTime(pid: number): string | null {
  const stat = readOr(`/proc/${pid}/stat`, null);
  if (stat === null) return null;
  // Field 2 (the command name) is in parentheses and may hold spaces; field 22 is the 20th after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19] ?? null;
}

function pidNamespace(): string | null {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return null;
  }
}

/** This process's record, as it would take a data dir now. */
export function ownRecord(): OwnerRecord {
  return {
    pid: process.pid,
    startTime: processStartTime(process.pid),
    bootId: readOr('/proc/sys/kernel/random/boot_id', null),
    pidNamespace: pidNamespace(),
    hostname: os.hostname(),
    since: new Date().toISOString(),
  };
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoOf(error) === 'EPERM';
  }
}

/** The initial pid namespace (PROC_PID_INIT_INO): a process in it sees every process of the machine. */
export const INITIAL_PID_NAMESPACE = 'pid:[4026531836]';

/** Whether any process visible here runs in `namespace`; unknown when some could not be looked at. */
export function namespaceHasProcesses(namespace: string): 'yes' | 'no' | 'unknown' {
  let unreadable = false;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/ns/pid`) === namespace) return 'yes';
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT') unreadable = true; // ENOENT: it exited meanwhile
    }
  }
  return unreadable ? 'unknown' : 'no';
}

/**
 * Judges a record from where `self` runs. Same boot and pid namespace: exact (pid and start time).
 * Same boot, another pid namespace (a container and its host, or two containers): the owner's pid
 * means nothing here, but its namespace does: processes still in it mean not provably dead; none,
 * seen from the initial namespace (which sees all), means dead. Otherwise the same host name means
 * an earlier boot or an earlier run of this container (a restart gives a container a new pid
 * namespace and keeps its name): dead. Any other host name is another machine or container
 * sharing the directory, which cannot be checked: foreign.
 */
export function judgeOwner(
  record: OwnerRecord,
  self: OwnerRecord = ownRecord(),
  /** How processes of a namespace are looked for (a parameter so a test can play the initial namespace's view). */
  lookInNamespace: (namespace: string) => 'yes' | 'no' | 'unknown' = namespaceHasProcesses,
): OwnerVerdict {
  const sameHost = record.hostname === self.hostname;
  if (self.bootId === null || self.pidNamespace === null || record.bootId === null || record.pidNamespace === null) {
    // No /proc (not Linux): only a process of this host can be checked, by its pid alone.
    return sameHost ? (processExists(record.pid) ? 'alive' : 'dead') : 'foreign';
  }
  if (record.bootId === self.bootId) {
    if (record.pidNamespace === self.pidNamespace) {
      if (record.startTime === null) return processExists(record.pid) ? 'alive' : 'dead';
      return processStartTime(record.pid) === record.startTime ? 'alive' : 'dead';
    }
    const seen = lookInNamespace(record.pidNamespace);
    if (seen === 'yes') return 'foreign';
    if (seen === 'no' && self.pidNamespace === INITIAL_PID_NAMESPACE) return 'dead';
  }
  return sameHost ? 'dead' : 'foreign';
}

/** DATA_DIR_IN_USE: the data dir belongs to another live (or unverifiable) engine. */
export function dataDirInUse(dataDir: string, record: OwnerRecord, verdict: 'alive' | 'foreign'): CodecellError {
  const where = verdict === 'alive' ? `process ${record.pid}` : `process ${record.pid} on host ${record.hostname}`;
  return new CodecellError(
    'DATA_DIR_IN_USE',
    `the data dir ${dataDir} is in use by ${where} (since ${record.since})`,
    undefined,
    {
      dataDir,
      ownerPid: record.pid,
      ownerHost: record.hostname,
      ownerElsewhere: verdict === 'foreign',
      ownerRecordFile: path.join(dataDir, OWNER_RECORD_FILE),
    },
  );
}

export interface DataDirOwnership {
  /** The owner this engine took over from (it had died), or null when the data dir was free. */
  readonly tookOverFrom: OwnerRecord | null;
  /** Gives the data dir up (removes the record if it is still ours). Idempotent. */
  release(): Promise<void>;
}

const ATTEMPTS = 5;

/**
 * Takes the data dir for this process, or throws DATA_DIR_IN_USE. The record is written whole to
 * a temporary file and linked into place: link(2) fails if a record exists, so exactly one of two
 * engines starting together wins, and a record is never seen half-written.
 */
export async function takeDataDir(dataDir: string): Promise<DataDirOwnership> {
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(dataDir, OWNER_RECORD_FILE);
  const mine = ownRecord();
  const text = `${JSON.stringify(mine)}\n`;
  const temporary = `${file}.${process.pid}.${randomBytes(6).toString('hex')}`;
  await fs.writeFile(temporary, text, { mode: 0o600, flag: 'wx' });
  let tookOverFrom: OwnerRecord | null = null;
  try {
    for (let attempt = 0; attempt < ATTEMPTS; attempt += 1) {
      try {
        await fs.link(temporary, file);
        return ownership(file, text, tookOverFrom);
      } catch (error) {
        if (errnoOf(error) !== 'EEXIST') throw error;
      }
      const existing = await readRecord(file);
      if (existing === 'gone') continue;
      // Records are linked in whole, so an unreadable one was not written by an engine: nothing to respect.
      if (existing !== 'unreadable') {
        const verdict = judgeOwner(existing.record, mine);
        if (verdict !== 'dead') throw dataDirInUse(dataDir, existing.record, verdict);
      }
      if (await setAside(file, existing === 'unreadable' ? null : existing.text)) {
        tookOverFrom = existing === 'unreadable' ? null : existing.record;
      }
    }
    throw new CodecellError('INTERNAL', `could not take the data dir ${dataDir}: its owner record kept changing`);
  } finally {
    await fs.rm(temporary, { force: true });
  }
}

type ReadRecord = { record: OwnerRecord; text: string } | 'gone' | 'unreadable';

async function readRecord(file: string): Promise<ReadRecord> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return 'gone';
    throw error;
  }
  try {
    const parsed = OwnerRecordSchema.safeParse(JSON.parse(text));
    return parsed.success ? { record: parsed.data, text } : 'unreadable';
  } catch {
    return 'unreadable';
  }
}

/**
 * Moves a dead owner's record aside. If what was moved is not the record judged dead (another
 * engine took over in between and wrote its own), it is linked back; a third engine racing in
 * that instant could still slip in, which needs three engines starting on a crashed data dir at once.
 */
async function setAside(file: string, deadText: string | null): Promise<boolean> {
  const aside = `${file}.dead.${process.pid}.${randomBytes(6).toString('hex')}`;
  try {
    await fs.rename(file, aside);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return false;
    throw error;
  }
  try {
    const moved = await fs.readFile(aside, 'utf8');
    if (deadText !== null && moved !== deadText) {
      await fs.link(aside, file).catch(() => undefined);
      return false;
    }
    return true;
  } finally {
    await fs.rm(aside, { force: true });
  }
}

function ownership(file: string, text: string, tookOverFrom: OwnerRecord | null): DataDirOwnership {
  let released: Promise<void> | undefined;
  return {
    tookOverFrom,
    release() {
      released ??= (async () => {
        const current = await fs.readFile(file, 'utf8').catch(() => null);
        if (current === text) await fs.rm(file, { force: true });
      })();
      return released;
    },
  };
}
