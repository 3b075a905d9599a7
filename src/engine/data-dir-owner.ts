/**
 * One live engine per data dir. An engine treats the containers labelled with its data dir and
 * everything left in its slots as its own (crash leftovers at start, its own work at shutdown), so
 * a second engine on the same data dir would kill the first one's runs. At start an engine takes
 * the data dir with an owner record (`<data dir>/owner.json`): its pid, the process start time,
 * the boot id, pid namespace and host name. A record whose process still lives refuses the
 * newcomer; a record whose process is gone (a crash) is taken over, and recovery then rightly
 * cleans up after it.
 *
 * A record from another host or container (a Hugging Face restart is a new container with a new host
 * name) cannot be checked that way, so the record is also a lease: its owner rewrites it with a
 * fresh `renewedAt` every renew interval. A foreign record not renewed for the stale time (by the
 * newcomer's clock) is a crashed owner's and is taken over; a fresh one is waited on up to one stale
 * time plus one interval (an owner being replaced may be shutting down), then refused.
 *
 * Hand-written rather than a lockfile library: a pid plus its start time tells exactly whether the
 * owner lives; the mtime-based libraries guess from staleness, and Node has no flock(2). Where only
 * staleness can tell (another container), the time is written inside the record, not read from the
 * file's mtime, which a bucket's FUSE mount may not keep.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { CodecellError } from '../errors.js';
import { errnoOf } from '../errno.js';
import { statFieldsAfterName } from '../proc-stat.js';

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
  /** When the owner last renewed its lease (ISO time); absent in records of older versions (then `since`). */
  renewedAt: z.string().optional(),
  /** Makes every written record unique, so a record read back tells whose it is. */
  token: z.string().optional(),
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
  // Field 22 is the 20th after the command name.
  return statFieldsAfterName(stat)[19] ?? null;
}

function pidNamespace(): string | null {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return null;
  }
}

/** This process's record, as it would take a data dir now. */
export function ownRecord(now: number = Date.now()): OwnerRecord {
  const at = new Date(now).toISOString();
  return {
    pid: process.pid,
    startTime: processStartTime(process.pid),
    bootId: readOr('/proc/sys/kernel/random/boot_id', null),
    pidNamespace: pidNamespace(),
    hostname: os.hostname(),
    since: at,
    renewedAt: at,
    token: randomBytes(8).toString('hex'),
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

/** When a record's owner last renewed its lease, in ms (NaN when unreadable: never stale by that). */
export function lastRenewal(record: OwnerRecord): number {
  return Date.parse(record.renewedAt ?? record.since);
}

/** DATA_DIR_IN_USE: the data dir belongs to another live (or unverifiable) engine. */
export function dataDirInUse(dataDir: string, record: OwnerRecord, verdict: 'alive' | 'foreign'): CodecellError {
  const where = verdict === 'alive' ? `process ${record.pid}` : `process ${record.pid} on host ${record.hostname}`;
  const lease = verdict === 'foreign' ? `, lease last renewed ${record.renewedAt ?? record.since}` : '';
  return new CodecellError(
    'DATA_DIR_IN_USE',
    `the data dir ${dataDir} is in use by ${where} (since ${record.since}${lease})`,
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
  /** True when that owner was foreign and taken over because its lease had lapsed (not provably dead). */
  readonly leaseLapsed: boolean;
  /** Renews the lease now (the timer does this every renew interval); false once the record is no longer ours. */
  renew(): Promise<boolean>;
  /** Stops renewing and gives the data dir up (removes the record if it is still ours). Idempotent. */
  release(): Promise<void>;
}

export interface OwnerLeaseOptions {
  readonly renewEveryMs: number;
  readonly staleAfterMs: number;
  /** How long a newcomer waits on a fresh foreign lease before refusing; default one stale time plus one interval. */
  readonly waitUpToMs?: number;
  /** The clock (a parameter so tests need no sleeps). */
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Told when a renewal finds the record is no longer ours (another engine took the data dir over). */
  readonly onLost?: (current: OwnerRecord | null) => void;
  /** Told when a renewal fails (e.g. the data dir's filesystem errs); the next interval tries again. */
  readonly onRenewError?: (error: unknown) => void;
}

export const DEFAULT_OWNER_LEASE: OwnerLeaseOptions = { renewEveryMs: 10_000, staleAfterMs: 30_000 };

const ATTEMPTS = 5;

/**
 * Takes the data dir for this process, or throws DATA_DIR_IN_USE. The record is written whole to
 * a temporary file and linked into place: link(2) fails if a record exists, so exactly one of two
 * engines starting together wins, and a record is never seen half-written.
 */
export async function takeDataDir(dataDir: string, lease: OwnerLeaseOptions = DEFAULT_OWNER_LEASE): Promise<DataDirOwnership> {
  const now = lease.now ?? Date.now;
  const sleep = lease.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const deadline = now() + (lease.waitUpToMs ?? lease.staleAfterMs + lease.renewEveryMs);
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(dataDir, OWNER_RECORD_FILE);
  const mine = ownRecord(now());
  const text = `${JSON.stringify(mine)}\n`;
  const temporary = `${file}.${process.pid}.${randomBytes(6).toString('hex')}`;
  await fs.writeFile(temporary, text, { mode: 0o600, flag: 'wx' });
  let tookOverFrom: OwnerRecord | null = null;
  let leaseLapsed = false;
  try {
    for (let attempt = 0; attempt < ATTEMPTS; ) {
      try {
        await fs.link(temporary, file);
        return ownership(file, mine, text, tookOverFrom, leaseLapsed, lease);
      } catch (error) {
        if (errnoOf(error) !== 'EEXIST') throw error;
      }
      const existing = await readRecord(file);
      if (existing === 'gone') {
        attempt += 1;
        continue;
      }
      let lapsed = false;
      // Records are linked in whole, so an unreadable one was not written by an engine: nothing to respect.
      if (existing !== 'unreadable') {
        const verdict = judgeOwner(existing.record, mine);
        if (verdict === 'alive') throw dataDirInUse(dataDir, existing.record, verdict);
        if (verdict === 'foreign') {
          const lapsesAt = lastRenewal(existing.record) + lease.staleAfterMs;
          if (!(now() >= lapsesAt)) {
            // Fresh (or unreadable time): wait for it to lapse, or for its owner to renew it or let it go.
            if (now() >= deadline) throw dataDirInUse(dataDir, existing.record, verdict);
            const untilLapse = Number.isFinite(lapsesAt) ? lapsesAt - now() : lease.renewEveryMs;
            await sleep(Math.max(1, Math.min(untilLapse, lease.renewEveryMs, deadline - now())));
            continue;
          }
          lapsed = true;
        }
      }
      attempt += 1;
      if (await setAside(file, existing === 'unreadable' ? null : existing.text)) {
        tookOverFrom = existing === 'unreadable' ? null : existing.record;
        leaseLapsed = lapsed;
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

/**
 * The held data dir: a timer renews the lease by writing the record anew beside it and renaming it
 * into place (never half-written), only while the record there is still this engine's.
 */
function ownership(
  file: string,
  mine: OwnerRecord,
  firstText: string,
  tookOverFrom: OwnerRecord | null,
  leaseLapsed: boolean,
  lease: OwnerLeaseOptions,
): DataDirOwnership {
  const now = lease.now ?? Date.now;
  let text = firstText;
  let lost = false;
  let released: Promise<void> | undefined;
  let renewing: Promise<boolean> = Promise.resolve(true);

  const renewOnce = async (): Promise<boolean> => {
    if (lost || released !== undefined) return false;
    const current = await readRecord(file);
    if (current === 'gone' || current === 'unreadable' || current.text !== text) {
      lost = true;
      lease.onLost?.(current === 'gone' || current === 'unreadable' ? null : current.record);
      return false;
    }
    const renewed = `${JSON.stringify({ ...mine, renewedAt: new Date(now()).toISOString() })}\n`;
    const temporary = `${file}.${process.pid}.${randomBytes(6).toString('hex')}`;
    try {
      await fs.writeFile(temporary, renewed, { mode: 0o600, flag: 'wx' });
      await fs.rename(temporary, file);
      text = renewed;
    } finally {
      await fs.rm(temporary, { force: true });
    }
    return true;
  };
  const renew = (): Promise<boolean> => {
    renewing = renewing.then(renewOnce, renewOnce);
    return renewing;
  };
  const timer = setInterval(() => {
    renew().catch((error: unknown) => lease.onRenewError?.(error));
  }, lease.renewEveryMs);
  timer.unref();

  return {
    tookOverFrom,
    leaseLapsed,
    renew,
    release() {
      released ??= (async () => {
        clearInterval(timer);
        await renewing.catch(() => undefined);
        const current = await fs.readFile(file, 'utf8').catch(() => null);
        if (current === text) await fs.rm(file, { force: true });
      })();
      return released;
    },
  };
}
