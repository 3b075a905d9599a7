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
import { isCodecellError, type CodecellError } from '../../../src/errors.js';
import {
  INITIAL_PID_NAMESPACE,
  OWNER_RECORD_FILE,
  judgeOwner,
  namespaceHasProcesses,
  ownRecord,
  processStartTime,
  takeDataDir,
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

  it('refuses a record from another host or container, as one whose owner cannot be checked', async () => {
    writeRecord({ ...ownRecord(), bootId: 'another-machine', pidNamespace: 'pid:[1]', hostname: 'elsewhere', pid: 1 });
    const error = await refusal(takeDataDir(dataDir));
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
