/**
 * The owner record of a data dir: a live owner refuses a second engine, a dead one (gone, or its pid
 * reused) is taken over, a record from another host or container is refused as unverifiable.
 * Real processes and files; no Docker.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSettings, SettingsError } from '../../../src/config/settings.js';
import { isCodecellError, type CodecellError } from '../../../src/errors.js';
import {
  INITIAL_PID_NAMESPACE,
  OWNER_RECORD_FILE,
  judgeOwner,
  namespaceHasProcesses,
  ownRecord,
  processStartTime,
  takeDataDir,
  type OwnerLeaseOptions,
  type OwnerRecord,
} from '../../../src/engine/data-dir-owner.js';

let dataDir: string;
let recordFile: string;

beforeEach(() => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'codecell-owner-test-'));
  recordFile = path.join(dataDir, OWNER_RECORD_FILE);
});

afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

const LEASE = { renewEveryMs: 10_000, staleAfterMs: 30_000 } as const;

/** A clock the test moves: `sleep` advances it (and runs `onSleep`, e.g. a renewal by the other owner) instead of waiting. */
function fakeClock(start: number, onSleep: (now: number) => void = () => undefined) {
  const clock = { now: start, slept: [] as number[] };
  const lease: OwnerLeaseOptions = {
    ...LEASE,
    now: () => clock.now,
    sleep: async (ms) => {
      clock.slept.push(ms);
      clock.now += ms;
      onSleep(clock.now);
    },
  };
  return { clock, lease };
}

/** A record as another container sees it: another host name, boot and pid namespace, renewed at `renewedAt`. */
function foreignRecord(renewedAt: number, extra: Partial<OwnerRecord> = {}): OwnerRecord {
  const at = new Date(renewedAt).toISOString();
  return { ...ownRecord(), pid: 7, bootId: 'another-boot', pidNamespace: 'pid:[4026532999]', hostname: 'd65559dadbee', since: at, renewedAt: at, ...extra };
}

function readRecordFile(): OwnerRecord {
  return JSON.parse(readFileSync(recordFile, 'utf8')) as OwnerRecord;
}

function writeRecord(record: OwnerRecord): void {
  writeFileSync(recordFile, `${JSON.stringify(record)}\n`);
}

async function refusal(promise: Promise<unknown>): Promise<CodecellError> {
  try {
    await promise;
  } catch (error) {
    if (isCodecellError(error)) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

/** A record of a process that ran and has exited: its pid and start time, taken while it lived. */
async function deadProcessRecord(): Promise<OwnerRecord> {
  const child = spawn(process.execPath, ['-e', 'process.stdin.resume()'], { stdio: ['pipe', 'ignore', 'ignore'] });
  await once(child, 'spawn');
  const pid = child.pid;
  if (pid === undefined) throw new Error('no pid');
  const startTime = processStartTime(pid);
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
  return { ...ownRecord(), pid, startTime };
}

describe('takeDataDir', () => {
  it('takes a free data dir with a record of this process, and release removes it', async () => {
    const ownership = await takeDataDir(dataDir);
    expect(ownership.tookOverFrom).toBeNull();
    const record = JSON.parse(readFileSync(recordFile, 'utf8')) as OwnerRecord;
    expect(record.pid).toBe(process.pid);
    expect(record.hostname).toBe(os.hostname());
    await ownership.release();
    await ownership.release();
    expect(existsSync(recordFile)).toBe(false);
  });

  it('refuses a data dir whose owner lives, naming the data dir and the owner', async () => {
    const ownership = await takeDataDir(dataDir);
    const error = await refusal(takeDataDir(dataDir));
    expect(error.code).toBe('DATA_DIR_IN_USE');
    expect(error.message).toContain(dataDir);
    expect(error.message).toContain(`process ${process.pid}`);
    expect(error.fields).toMatchObject({ dataDir, ownerPid: process.pid, ownerElsewhere: false, ownerRecordFile: recordFile });
    // The refused attempt left the owner's record alone.
    expect((JSON.parse(readFileSync(recordFile, 'utf8')) as OwnerRecord).pid).toBe(process.pid);
    await ownership.release();
  });

  it('lets exactly one of two engines starting together take the data dir', async () => {
    const outcomes = await Promise.allSettled([takeDataDir(dataDir), takeDataDir(dataDir)]);
    const taken = outcomes.filter((outcome) => outcome.status === 'fulfilled');
    const refused = outcomes.filter((outcome) => outcome.status === 'rejected');
    expect(taken).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect(refused[0]?.status === 'rejected' && isCodecellError(refused[0].reason) ? refused[0].reason.code : null).toBe('DATA_DIR_IN_USE');
    if (taken[0]?.status === 'fulfilled') await taken[0].value.release();
  });

  it('takes over from an owner whose process is gone, and says from whom', async () => {
    const dead = await deadProcessRecord();
    writeRecord(dead);
    const ownership = await takeDataDir(dataDir);
    expect(ownership.tookOverFrom?.pid).toBe(dead.pid);
    expect((JSON.parse(readFileSync(recordFile, 'utf8')) as OwnerRecord).pid).toBe(process.pid);
    await ownership.release();
  });

  // Without /proc a start time cannot be read, so a reused pid cannot be told from its owner.
  it.runIf(processStartTime(process.pid) !== null)('takes over from a record whose pid now belongs to another process (a different start time)', async () => {
    const self = ownRecord();
    writeRecord({ ...self, startTime: `${self.startTime ?? ''}1` });
    const ownership = await takeDataDir(dataDir);
    expect(ownership.tookOverFrom?.pid).toBe(process.pid);
    await ownership.release();
  });

  it('refuses a record from another host or container whose lease is fresh, as one whose owner cannot be checked', async () => {
    writeRecord({ ...ownRecord(), bootId: 'another-machine', pidNamespace: 'pid:[1]', hostname: 'elsewhere', pid: 1 });
    const error = await refusal(takeDataDir(dataDir, { ...LEASE, waitUpToMs: 0 }));
    expect(error.code).toBe('DATA_DIR_IN_USE');
    expect(error.message).toContain('on host elsewhere');
    expect(error.fields).toMatchObject({ ownerElsewhere: true, ownerHost: 'elsewhere', ownerRecordFile: recordFile });
  });

  it('takes over an unreadable record (no engine writes one: records are linked in whole)', async () => {
    writeFileSync(recordFile, 'not json');
    const ownership = await takeDataDir(dataDir);
    expect(ownership.tookOverFrom).toBeNull();
    expect((JSON.parse(readFileSync(recordFile, 'utf8')) as OwnerRecord).pid).toBe(process.pid);
    await ownership.release();
  });

  it('release leaves a record that is no longer its own', async () => {
    const ownership = await takeDataDir(dataDir);
    const other = { ...ownRecord(), since: 'later' };
    writeRecord(other);
    await ownership.release();
    expect((JSON.parse(readFileSync(recordFile, 'utf8')) as OwnerRecord).since).toBe('later');
  });
});

describe('judgeOwner', () => {
  it('judges this process alive and a record of an exited process dead', async () => {
    expect(judgeOwner(ownRecord())).toBe('alive');
    expect(judgeOwner(await deadProcessRecord())).toBe('dead');
  });

  it('judges a record of an earlier boot under this host name dead, under another host name foreign', () => {
    const self = ownRecord();
    expect(judgeOwner({ ...self, bootId: 'an-earlier-boot' }, self)).toBe('dead');
    expect(judgeOwner({ ...self, bootId: 'another-machine', hostname: `${self.hostname}-other` }, self)).toBe('foreign');
  });

  it('judges a record from a pid namespace that still has processes foreign, whatever its host name', () => {
    // Seen from another namespace (as a container would see its host, or the reverse), this process's
    // own namespace is one with processes in it: its owner is not provably gone.
    const owner = ownRecord();
    expect(judgeOwner(owner, { ...owner, pidNamespace: 'pid:[1]' })).toBe('foreign');
    expect(judgeOwner(owner, { ...owner, pidNamespace: 'pid:[1]', hostname: `${owner.hostname}-other` })).toBe('foreign');
  });

  it('judges a record from a pid namespace without processes dead only when every process could be looked at from the initial namespace', () => {
    // Whether this machine lets every process's namespace be read (a sandbox may hide pid 1) is the
    // machine's business, so the look-up's answer is given here; namespaceHasProcesses is tested below.
    const self = { ...ownRecord(), pidNamespace: INITIAL_PID_NAMESPACE };
    const record = { ...self, pidNamespace: 'pid:[1]', hostname: `${self.hostname}-other` };
    expect(judgeOwner(record, self, () => 'no')).toBe('dead');
    expect(judgeOwner(record, self, () => 'unknown')).toBe('foreign');
    expect(judgeOwner(record, { ...self, pidNamespace: 'pid:[2]' }, () => 'no')).toBe('foreign');
  });

  it('finds processes in this process\'s pid namespace and none in one that does not exist', () => {
    const own = ownRecord().pidNamespace;
    if (own === null) throw new Error('no /proc');
    expect(namespaceHasProcesses(own)).toBe('yes');
    expect(namespaceHasProcesses('pid:[1]')).not.toBe('yes');
  });

  it('judges a record of an earlier run of this container (same host name, a namespace gone) dead', () => {
    const self = { ...ownRecord(), pidNamespace: 'pid:[2]' };
    expect(judgeOwner({ ...self, pidNamespace: 'pid:[1]' }, self)).toBe('dead');
    expect(judgeOwner({ ...self, pidNamespace: 'pid:[1]', hostname: `${self.hostname}-other` }, self)).toBe('foreign');
  });
});

describe('the owner lease (records from another host or container)', () => {
  const T0 = Date.parse('2026-12-01T03:00:00.000Z');

  it('takes over a foreign record whose lease lapsed, says so, and writes its own', async () => {
    writeRecord(foreignRecord(T0));
    const { clock, lease } = fakeClock(T0 + 30_000);
    const ownership = await takeDataDir(dataDir, lease);
    expect(ownership.leaseLapsed).toBe(true);
    expect(ownership.tookOverFrom).toMatchObject({ pid: 7, hostname: 'd65559dadbee' });
    expect(clock.slept).toEqual([]);
    expect(readRecordFile()).toMatchObject({ pid: process.pid, hostname: os.hostname(), renewedAt: new Date(T0 + 30_000).toISOString() });
    await ownership.release();
    expect(existsSync(recordFile)).toBe(false);
  });

  it('takes over a record of an older version (no renewedAt) by its start time', async () => {
    const { renewedAt: _dropped, token: _token, ...old } = foreignRecord(T0);
    writeRecord(old);
    const { lease } = fakeClock(T0 + 31_000);
    const ownership = await takeDataDir(dataDir, lease);
    expect(ownership.leaseLapsed).toBe(true);
    await ownership.release();
  });

  it('waits on a fresh foreign lease that its owner stops renewing, and takes over once it lapses', async () => {
    writeRecord(foreignRecord(T0));
    const { clock, lease } = fakeClock(T0 + 5_000);
    const ownership = await takeDataDir(dataDir, lease);
    expect(ownership.leaseLapsed).toBe(true);
    // 25 s were left of the lease, waited in steps of at most one renew interval.
    expect(clock.slept).toEqual([10_000, 10_000, 5_000]);
    expect(clock.now).toBe(T0 + 30_000);
    expect(readRecordFile().pid).toBe(process.pid);
    await ownership.release();
  });

  it('refuses a foreign owner that keeps renewing, after waiting one stale time plus one interval', async () => {
    writeRecord(foreignRecord(T0));
    const { clock, lease } = fakeClock(T0 + 1_000, (now) => writeRecord(foreignRecord(now)));
    const error = await refusal(takeDataDir(dataDir, lease));
    expect(error.code).toBe('DATA_DIR_IN_USE');
    expect(error.message).toContain('process 7 on host d65559dadbee');
    expect(error.message).toContain('lease last renewed');
    expect(clock.now - (T0 + 1_000)).toBe(40_000);
    expect(readRecordFile()).toMatchObject({ pid: 7, hostname: 'd65559dadbee' });
  });

  it('refuses a foreign lease renewed in the future (a clock ahead of ours) once the wait is over', async () => {
    writeRecord(foreignRecord(T0 + 3_600_000));
    const { clock, lease } = fakeClock(T0);
    const error = await refusal(takeDataDir(dataDir, lease));
    expect(error.code).toBe('DATA_DIR_IN_USE');
    expect(clock.now - T0).toBe(40_000);
  });

  it('renews its own record with the clock, keeping the rest of it', async () => {
    const { clock, lease } = fakeClock(T0);
    const ownership = await takeDataDir(dataDir, lease);
    const first = readRecordFile();
    clock.now = T0 + 10_000;
    expect(await ownership.renew()).toBe(true);
    const renewed = readRecordFile();
    expect(renewed).toEqual({ ...first, renewedAt: new Date(T0 + 10_000).toISOString() });
    expect(renewed.since).toBe(new Date(T0).toISOString());
    await ownership.release();
    expect(existsSync(recordFile)).toBe(false);
  });

  it('stops renewing a record another engine took over, says so, and release leaves that record', async () => {
    const lost: Array<OwnerRecord | null> = [];
    const { lease } = fakeClock(T0);
    const ownership = await takeDataDir(dataDir, { ...lease, onLost: (current) => lost.push(current) });
    const taker = foreignRecord(T0 + 40_000);
    writeRecord(taker);
    expect(await ownership.renew()).toBe(false);
    expect(await ownership.renew()).toBe(false);
    expect(lost).toEqual([taker]);
    await ownership.release();
    expect(readRecordFile()).toEqual(taker);
  });

  it('lets exactly one of two newcomers take over a lapsed lease', async () => {
    writeRecord(foreignRecord(T0));
    const { lease } = fakeClock(T0 + 60_000);
    const results = await Promise.allSettled([takeDataDir(dataDir, lease), takeDataDir(dataDir, lease)]);
    const won = results.filter((result) => result.status === 'fulfilled');
    const refused = results.filter((result) => result.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect((refused[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'DATA_DIR_IN_USE' });
    expect(readRecordFile().pid).toBe(process.pid);
    await (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof takeDataDir>>>).value.release();
  });

  it('settings: the stale time must be at least three renew intervals', () => {
    expect(loadSettings({ CODECELL_OWNER_LEASE_RENEW_SECONDS: '5', CODECELL_OWNER_LEASE_STALE_SECONDS: '15' }).ownerLease).toEqual({
      renewEveryMs: 5_000,
      staleAfterMs: 15_000,
    });
    expect(loadSettings({}).ownerLease).toEqual({ renewEveryMs: 10_000, staleAfterMs: 30_000 });
    expect(() => loadSettings({ CODECELL_OWNER_LEASE_RENEW_SECONDS: '10', CODECELL_OWNER_LEASE_STALE_SECONDS: '20' })).toThrow(SettingsError);
    expect(() => loadSettings({ CODECELL_OWNER_LEASE_RENEW_SECONDS: '0' })).toThrow(/CODECELL_OWNER_LEASE_RENEW_SECONDS/);
  });
});
