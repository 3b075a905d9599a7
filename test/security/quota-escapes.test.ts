/**
 * Ways to store more than a session's quota (issue 15, items 3, 5 and 6; H1 and M3 of the red team:
 * space fallocated past a file's end, xattrs on folders), tried through the public
 * interfaces only: MCP tool calls run the code, the REST file routes upload and list. Each attack
 * must be seen by the one usage measure (files/usage.ts) wherever it counts: the watchdog during a
 * run, the upload check, the listing, and session removal must leave no bytes behind.
 *
 * Limits come from the harness (20 MiB quota, 2000 entries); the disk budget and the 20,000-entry
 * case get a second server with the settings they need.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callTool, textOf } from '../interfaces/helpers/mcp-client.js';
import { RestClient, jsonOf } from '../files-e2e/helpers.js';
import { Harness, LIMITS } from './helpers/harness.js';

const MiB = 1024 * 1024;
const QUOTA = LIMITS.quotaMb * MiB;

/** Python that makes a chain of folders deeper than PATH_MAX (4096 bytes) and writes 1 MiB files at its bottom. */
const DEEP_FILL = (files: number) => `import os
name = 'd' * 200
for _ in range(25):          # 25 * 201 bytes: /mnt/data/ddd…/ddd… is longer than 5000 bytes
    os.mkdir(name)
    os.chdir(name)
block = b'\\0' * (1 << 20)
for i in range(${files}):
    with open(f'f{i}', 'wb') as f:
        f.write(block)
os.chdir('/mnt/data')
print('wrote everything')`;

function rest(h: Harness): RestClient {
  return new RestClient(h.server.url, { userId: 'attacker' });
}

function sessionDirOnDisk(h: Harness, session: string): string {
  return path.join(h.server.dataDir, 'sessions', session);
}

async function closeSession(h: Harness, session: string): Promise<{ isError: boolean; text: string }> {
  const result = await callTool(h.client, 'close_execution_session', { session_id: session });
  return { isError: result.isError === true, text: textOf(result) };
}

async function usageHeader(h: Harness, session: string): Promise<number> {
  const listing = await rest(h).list(session);
  expect(listing.status).toBe(200);
  return Number(listing.headers['x-codecell-usage-bytes']);
}

describe('quota escapes', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await Harness.start({ pools: { pythonLean: 1 } });
  });

  afterAll(async () => {
    await h?.close();
  });

  it('sees files deeper than PATH_MAX: the run is stopped or told, uploads are refused, and closing removes every byte', async () => {
    const session = await h.newSession();
    const out = await h.exec('python', DEEP_FILL(LIMITS.quotaMb * 3), { session });
    expect(out.notice ?? '', `status ${out.status}, stdout ${out.stdout}`).toMatch(/quota/);
    expect(await usageHeader(h, session)).toBeGreaterThan(QUOTA);

    const upload = await rest(h).upload(session, [{ name: 'file', filename: 'more.txt', content: 'x' }]);
    expect(upload.status).toBe(413);
    expect(jsonOf(upload)).toMatchObject({ error: 'QUOTA_EXCEEDED' });

    const closed = await closeSession(h, session);
    expect(closed.isError, closed.text).toBe(false);
    expect(existsSync(sessionDirOnDisk(h, session))).toBe(false);
    await h.stillServing();
  });

  it('counts /run/codecell/out against the quota', async () => {
    const session = await h.newSession();
    const out = await h.exec(
      'python',
      // Up to 2 GiB unless something stops it (it is gone with the container's slot afterwards: the
      // harm is the host's disk during the run).
      `block = b'\\0' * (1 << 20)
for i in range(2048):
    with open(f'/run/codecell/out/junk{i}', 'wb') as f:
        f.write(block)
print('wrote everything')`,
      { session },
    );
    expect(out.status).toBe('killed');
    expect(out.notice).toMatch(/quota of 20 MiB: the run was stopped/);
    expect(out.stdout).not.toContain('wrote everything');
    await h.stillServing();
  });

  // A file deleted while open keeps its blocks on the host's disk until its holder lets go, and no
  // walk of the session's folders sees it. Each way of holding one: a descriptor, a mapping alone
  // (the descriptor closed), a child process of the cell. 200 MiB is 10 quotas; the
  // program then waits, so only the watchdog can end it before its timeout.
  it.each([
    ['an open descriptor', "kept.append(f)"],
    ['a mapping whose descriptor is closed', "kept.append(mmap.mmap(f.fileno(), 0)); f.close()"],
    ['a child process of the cell', "kept.append(f)"],
  ])('counts files deleted while held through %s', async (how, hold) => {
    const session = await h.newSession();
    const child = how.startsWith('a child');
    const out = await h.exec(
      'python',
      `import mmap, os, time
kept = []
# The child holds them; the parent (the cell) only waits.
if ${child ? 'os.fork() == 0' : 'True'}:
    block = b'x' * (4 << 20)
    for i in range(50):
        f = open(f'/mnt/data/held{i}', 'w+b')
        f.write(block)
        f.flush()
        ${hold}
        os.unlink(f'/mnt/data/held{i}')
    print('holding', flush=True)
time.sleep(3600)`,
      { session, timeout: h.budget(20) },
    );
    expect(out.notice ?? '', `status ${out.status}, stdout ${out.stdout}`).toMatch(/quota of 20 MiB: the run was stopped/);
    // No listing shows those files: the notice says what took the room.
    expect(out.notice).toMatch(/of it were files the run had deleted while still holding them open/);
    expect(out.status).toBe('killed');
    expect(await usageHeader(h, session)).toBeLessThan(QUOTA);
    await h.stillServing();
  });

  // Red team: a process whose main thread has exited lists no mappings under /proc/PID (only its
  // live threads do): mappings alone (libc mmap, no descriptor kept) held there went uncounted.
  it('counts files deleted while mapped by a process whose main thread has exited', async () => {
    const session = await h.newSession();
    const out = await h.exec(
      'python',
      `import ctypes, mmap, os, platform, threading, time
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
SYS_EXIT = {'x86_64': 60, 'aarch64': 93}[platform.machine()]
def hold():
    for i in range(50):
        fd = os.open(f'/mnt/data/m{i}', os.O_RDWR | os.O_CREAT, 0o600)
        os.write(fd, b'x' * (4 << 20))
        libc.mmap(None, 4 << 20, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        os.close(fd)
        os.unlink(f'/mnt/data/m{i}')
    print('holding', flush=True)
    time.sleep(3600)
if os.fork() == 0:
    threading.Thread(target=hold).start()
    libc.syscall(SYS_EXIT, 0)  # this thread alone: the process lives on in the other
time.sleep(3600)`,
      { session, timeout: h.budget(20) },
    );
    expect(out.notice ?? '', `status ${out.status}, stdout ${out.stdout}`).toMatch(/quota of 20 MiB: the run was stopped/);
    expect(out.status).toBe('killed');
    await h.stillServing();
  });

  it('counts saved variables against the quota: uploads see them, and a snapshot that does not fit is not kept', async () => {
    // Variables first: a 12 MiB snapshot fits, and then a 12 MiB upload does not.
    const first = await h.newSession();
    const made = await h.exec('python', "import os\nbig = os.urandom(12 << 20)\nprint('made')", { session: first });
    expect(made.status, made.stderr).toBe('ok');
    expect(made.notice ?? '').not.toMatch(/not saved/);
    const upload = await rest(h).upload(first, [{ name: 'file', filename: 'ballast.bin', content: Buffer.alloc(12 * MiB) }]);
    expect(upload.status).toBe(413);
    expect(jsonOf(upload)).toMatchObject({ error: 'QUOTA_EXCEEDED' });
    expect(await usageHeader(h, first)).toBeGreaterThan(12 * MiB); // the listing shows what the variables take

    // Files first: after a 12 MiB upload, a 12 MiB snapshot is not adopted.
    const second = await h.newSession();
    const stored = await rest(h).upload(second, [{ name: 'file', filename: 'ballast.bin', content: Buffer.alloc(12 * MiB) }]);
    expect(stored.status).toBe(201);
    const grown = await h.exec('python', "import os\nbig = os.urandom(12 << 20)\nprint('made')", { session: second });
    expect(grown.notice ?? '', `status ${grown.status}`).toMatch(/quota/);
    const check = await h.exec('python', "print('big' in globals())", { session: second });
    expect(check.stdout).toBe('False\n');
    await h.stillServing();
  });

  it('does not count variables twice while a new snapshot replaces the old one', async () => {
    // 12 MiB of variables in a 20 MiB quota: old and new snapshot together would be 24 MiB.
    const session = await h.newSession();
    const made = await h.exec('python', "import os\nbig = os.urandom(12 << 20)\nprint('made')", { session });
    expect(made.notice ?? '').not.toMatch(/not saved|quota/);
    const again = await h.exec('python', "small = 1\nprint(len(big))", { session });
    expect(again.status, again.notice ?? '').toBe('ok');
    expect(again.notice ?? '').not.toMatch(/not saved|quota/);
    const check = await h.exec('python', 'print(len(big), small)', { session });
    expect(check.stdout).toBe(`${12 * MiB} 1\n`);
  });

  it('lists, and counts, a file whose name begins with U+FEFF', async () => {
    const session = await h.newSession();
    const out = await h.exec('python', "open('/mnt/data/\\ufeffhidden.bin', 'wb').write(b'\\0' * (15 << 20))\nprint('ok')", { session });
    expect(out.status, out.stderr).toBe('ok');
    expect(await rest(h).paths(session)).toContain('\uFEFFhidden.bin');
    const upload = await rest(h).upload(session, [{ name: 'file', filename: 'more.bin', content: Buffer.alloc(6 * MiB) }]);
    expect(upload.status).toBe(413);
    await h.stillServing();
  });

  it('bounds space reserved past the end of a file (fallocate KEEP_SIZE): refused, or counted and told', async () => {
    const session = await h.newSession();
    // The file's size stays 0 while 60 MiB (three quotas) are allocated to it, if the sandbox lets it.
    const out = await h.exec(
      'python',
      `import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
fd = os.open('/mnt/data/.x', os.O_WRONLY | os.O_CREAT, 0o600)
FALLOC_FL_KEEP_SIZE = 1
done = libc.fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, ${3 * LIMITS.quotaMb} << 20) == 0
info = os.fstat(fd)
plain = os.open('/mnt/data/plain', os.O_WRONLY | os.O_CREAT, 0o600)
os.posix_fallocate(plain, 0, 1 << 20)   # growing the size stays allowed (bounded by RLIMIT_FSIZE)
print('allocated' if done else 'refused', info.st_size, info.st_blocks * 512, os.fstat(plain).st_size)`,
      { session },
    );
    const [verdict, size, allocated, plainSize] = out.stdout.trim().split(' ');
    expect(['allocated', 'refused'], `status ${out.status}, stdout ${out.stdout}, stderr ${out.stderr}`).toContain(verdict);
    expect(size).toBe('0');
    expect(plainSize).toBe(String(MiB));
    const upload = await rest(h).upload(session, [{ name: 'file', filename: 'more.bin', content: Buffer.alloc(MiB) }]);
    if (verdict === 'allocated') {
      expect(Number(allocated)).toBeGreaterThan(QUOTA);
      expect(out.notice ?? '', `status ${out.status}`).toMatch(/quota/);
      expect(await usageHeader(h, session)).toBeGreaterThanOrEqual(Number(allocated));
      expect(upload.status).toBe(413);
      expect(jsonOf(upload)).toMatchObject({ error: 'QUOTA_EXCEEDED' });
    } else {
      expect(out.status, out.stderr).toBe('ok');
      expect(upload.status).toBe(201);
    }
    expect((await closeSession(h, session)).isError).toBe(false);
    await h.stillServing();
  });

  it('counts extended attributes stored on folders, or refuses them', async () => {
    const session = await h.newSession();
    // 1000 folders with 3,500 bytes of xattr each: the bytes sit in blocks of the folders' own.
    const out = await h.exec(
      'python',
      `import os
stored = 0
os.mkdir('pads')
for i in range(1000):
    os.mkdir(f'pads/d{i}')
    try:
        os.setxattr(f'pads/d{i}', 'user.pad', b'p' * 3500)
        stored += 1
    except OSError:
        pass
print(stored)`,
      { session },
    );
    expect(out.status, out.notice ?? out.stderr).toBe('ok');
    const stored = Number(out.stdout.trim());
    expect(Number.isInteger(stored), out.stdout).toBe(true);
    expect(await usageHeader(h, session)).toBeGreaterThanOrEqual(stored * 3500);
    expect((await closeSession(h, session)).isError).toBe(false);
    await h.stillServing();
  });

  it('caps the entries an upload may add', async () => {
    const session = await h.newSession();
    const out = await h.exec(
      'python',
      `import os
os.mkdir('many')
for i in range(${LIMITS.maxFiles - 10}):
    open(f'many/{i}', 'w').close()
print('ok')`,
      { session },
    );
    expect(out.status, out.notice ?? out.stderr).toBe('ok');
    const parts = Array.from({ length: 20 }, (_, index) => ({ name: 'file', filename: `up${index}.txt`, content: 'x' }));
    const upload = await rest(h).upload(session, parts);
    expect(upload.status).toBe(413);
    expect(jsonOf(upload)).toMatchObject({ error: 'QUOTA_EXCEEDED', message: expect.stringContaining('CODECELL_SESSION_MAX_FILES') });
    expect((await rest(h).paths(session)).filter((name) => name.startsWith('up'))).toEqual([]);
    await h.stillServing();
  });
});

describe('quota escapes that need other settings', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await Harness.start({
      pools: { pythonLean: 1 },
      // 48 MiB for every session together; sessions may hold 30,000 entries here (more than one listing shows).
      env: { CODECELL_DISK_BUDGET_MB: '48', CODECELL_SESSION_MAX_FILES: '30000' },
    });
  });

  afterAll(async () => {
    await h?.close();
  });

  it('checks the upload quota of a session with more than 20,000 entries', async () => {
    const session = await h.newSession();
    const out = await h.exec(
      'python',
      // 20,500 empty files beside a folder that holds the bytes: a scan that stops at 20,000
      // entries never gets into the folder.
      `import os
for i in range(20500):
    open(f'e{i}', 'w').close()
os.mkdir('deep')
open('deep/z.bin', 'wb').write(b'\\0' * (18 << 20))
print('ok')`,
      { session },
    );
    expect(out.status, out.notice ?? out.stderr).toBe('ok');
    const upload = await rest(h).upload(session, [{ name: 'file', filename: 'more.bin', content: Buffer.alloc(4 * MiB) }]);
    expect(upload.status).toBe(413);
    expect(jsonOf(upload)).toMatchObject({ error: 'QUOTA_EXCEEDED' });
    expect((await closeSession(h, session)).isError).toBe(false);
    await h.stillServing();
  });

  it('keeps all sessions together within the disk budget', async () => {
    const sessions: string[] = [];
    const outcomes: Array<{ status: string; notice: string | null }> = [];
    // Three sessions, each well within its own 20 MiB quota: 54 MiB in all, over the 48 MiB budget.
    for (let index = 0; index < 3; index += 1) {
      const session = await h.newSession();
      sessions.push(session);
      const out = await h.exec(
        'python',
        `block = b'\\0' * (1 << 20)
for i in range(18):
    with open(f'f{i}', 'wb') as f:
        f.write(block)
print('wrote everything')`,
        { session },
      );
      outcomes.push({ status: out.status, notice: out.notice });
    }
    expect(outcomes.slice(0, 2).map((outcome) => outcome.status)).toEqual(['ok', 'ok']);
    expect(outcomes[2]?.notice ?? '', JSON.stringify(outcomes[2])).toMatch(/disk budget/);

    const spare = await h.newSession();
    const upload = await rest(h).upload(spare, [{ name: 'file', filename: 'more.bin', content: Buffer.alloc(12 * MiB) }]);
    expect(upload.status).toBe(413);
    expect(jsonOf(upload)).toMatchObject({ error: 'QUOTA_EXCEEDED', message: expect.stringContaining('CODECELL_DISK_BUDGET_MB') });

    // Closing sessions gives the room back.
    for (const session of sessions) expect((await closeSession(h, session)).isError).toBe(false);
    const again = await rest(h).upload(spare, [{ name: 'file', filename: 'more.bin', content: Buffer.alloc(12 * MiB) }]);
    expect(again.status).toBe(201);
    await h.stillServing();
  });
});
