/**
 * The cgroup v1 freezer (src/executor/docker/cgroup-freezer.ts) on the real kernel, without Docker:
 * a writer process is moved into a freezer cgroup laid out as Docker lays out a container's. Once
 * frozen it writes nothing more; killed while frozen, it dies without another byte. Where the host
 * has no writable v1 freezer the freezer must decline (null), so the engine kills the slow way.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CgroupFreezer } from '../../src/executor/docker/cgroup-freezer.js';

const FREEZER_ROOT = '/sys/fs/cgroup/freezer';

async function writableFreezer(): Promise<boolean> {
  try {
    await fs.access(path.join(FREEZER_ROOT, 'cgroup.procs'), constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** A writer that appends 100 bytes at a time to `file` through one open handle, without pause. */
function startWriter(file: string): ChildProcess {
  return spawn(process.execPath, ['-e', `const fs = require('fs'); const fd = fs.openSync(${JSON.stringify(file)}, 'a'); const b = Buffer.alloc(100, 120); for (;;) fs.writeSync(fd, b);`], {
    stdio: 'ignore',
  });
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await fs.stat(file)).size;
  } catch {
    return 0;
  }
}

/** Resolves once `file` has at least `bytes`: polled, as nothing signals a write. */
async function grown(file: string, bytes: number): Promise<void> {
  while ((await sizeOf(file)) < bytes) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe('cgroup v1 freezer', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  });

  /** A fake Docker layout `<root>/docker/<id>` inside the real freezer hierarchy, holding a live writer. */
  async function frozenSetup(): Promise<{ freezer: CgroupFreezer; writer: ChildProcess; file: string; id: string; root: string }> {
    const root = path.join(FREEZER_ROOT, `codecell-freezer-test-${randomBytes(4).toString('hex')}`);
    const id = randomBytes(32).toString('hex');
    const dir = path.join(root, 'docker', id);
    await fs.mkdir(dir, { recursive: true });
    cleanups.push(async () => {
      await fs.rmdir(dir).catch(() => undefined);
      await fs.rmdir(path.join(root, 'docker'));
      await fs.rmdir(root);
    });
    const work = await fs.mkdtemp(path.join(os.tmpdir(), 'codecell-freezer-'));
    cleanups.push(() => fs.rm(work, { recursive: true, force: true }));
    const file = path.join(work, 'out.log');
    const writer = startWriter(file);
    const exited = once(writer, 'exit');
    cleanups.push(async () => {
      // A frozen task dies only once thawed.
      writer.kill('SIGKILL');
      await fs.writeFile(path.join(dir, 'freezer.state'), 'THAWED').catch(() => undefined);
      await exited;
    });
    await fs.writeFile(path.join(dir, 'cgroup.procs'), String(writer.pid));
    await grown(file, 100_000);
    const freezer = await CgroupFreezer.locate(id, root);
    if (freezer === null) throw new Error('the freezer was not located');
    return { freezer, writer, file, id, root };
  }

  it('declines where it cannot serve: no such container, a malformed id', async () => {
    expect(await CgroupFreezer.locate(randomBytes(32).toString('hex'))).toBeNull();
    expect(await CgroupFreezer.locate('../../etc')).toBeNull();
    if (!(await writableFreezer())) {
      // No writable v1 freezer here: every container is killed through the engine.
      expect(await CgroupFreezer.locate('0'.repeat(64))).toBeNull();
    }
  });

  it('stops every write once frozen, and a kill while frozen adds no byte', async (context) => {
    if (!(await writableFreezer())) context.skip();
    const { freezer, writer, file } = await frozenSetup();
    expect(await freezer.freeze(5_000)).toBe('frozen');
    const atFreeze = await sizeOf(file);
    // A running writer adds megabytes per second; a frozen one nothing. Its own pace is the clock.
    const control = path.join(path.dirname(file), 'control.log');
    const other = startWriter(control);
    await grown(control, 1_000_000);
    other.kill('SIGKILL');
    expect(await sizeOf(file)).toBe(atFreeze);
    const exited = once(writer, 'exit');
    await freezer.killFrozen();
    const [code, signal] = (await exited) as [number | null, string | null];
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGKILL' });
    expect(await sizeOf(file)).toBe(atFreeze);
  });

  it('answers gone once the cgroup is removed', async (context) => {
    if (!(await writableFreezer())) context.skip();
    const { freezer, writer } = await frozenSetup();
    const exited = once(writer, 'exit');
    writer.kill('SIGKILL');
    await exited;
    await fs.rmdir(freezer.dir);
    expect(await freezer.freeze(1_000)).toBe('gone');
  });
});
