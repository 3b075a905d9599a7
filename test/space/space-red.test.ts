/**
 * Red-team attacks on the Space's process executor that space.test.ts does not try: things the
 * sandbox lets through because every run and the server share one uid (1000) in a Space.
 *
 * - Landlock governs opening, creating, removing and truncating files, not their metadata: chmod
 *   and setxattr by path still reach every file the uid owns, the server's data dir included.
 * - /proc/<pid>/cmdline is readable by every process: whatever a launcher, or the server's `find -P`
 *   (files/usage.ts) and `rm -rf` (files/remove-tree.ts, executor/slot.ts) children carry there (the
 *   paths of another session's slot) is every run's to read.
 * - System V shared memory outlives the processes that made it and counts against no rlimit.
 * - RLIMIT_NPROC counts every task of the uid: one run that holds them all leaves none for the
 *   runs of other sessions.
 *
 * Started as space.test.ts starts the Space (uid 1000, cap-drop ALL, no-new-privileges, Docker's
 * default seccomp, no socket, the bucket at /data); the official MCP SDK client drives it.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecutionOutputSchema } from '../../src/interfaces/mcp/render-result.js';
import { callTool, connectStreamable } from '../interfaces/helpers/mcp-client.js';
import { freePort } from '../interfaces/helpers/test-server.js';
import { spaceServerFlags, startSpaceContainer, type SpaceContainer } from './space-container.js';
import { buildSpaceImage } from '../../scripts/space/space-image.js';

type Output = ReturnType<typeof ExecutionOutputSchema.parse>;

/** Paths (relative to the bucket) of every entry whose name is `name`; a folder gone meanwhile holds nothing. */
function findNamed(dir: string, name: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.name === name) return [full];
    return entry.isDirectory() ? findNamed(full, name) : [];
  });
}

describe('the Space against attacks through its shared uid (process executor)', () => {
  const apiKey = `space-key-${randomBytes(16).toString('hex')}`;
  let bucket: string;
  let container: SpaceContainer;
  let alice: Client;
  let mallory: Client;

  async function python(client: Client, code: string, timeout?: number): Promise<Output> {
    const args = timeout === undefined ? { code } : { code, timeout };
    const result = await callTool(client, 'execute_python_code', args, { timeoutMs: 300_000 });
    return ExecutionOutputSchema.parse(result.structuredContent);
  }

  beforeAll(async () => {
    const image = await buildSpaceImage();
    bucket = mkdtempSync(path.join(os.tmpdir(), 'codecell-space-red-'));
    chmodSync(bucket, 0o777);
    const port = await freePort();
    container = await startSpaceContainer(image, [
      ...spaceServerFlags(bucket, apiKey, port),
      '-e', 'CODECELL_POOL_PYTHON=1',
      '-e', 'CODECELL_POOL_NODE=1',
      '-e', 'CODECELL_POOL_BASH=1',
    ]);
    const url = `http://127.0.0.1:${port}`;
    alice = await connectStreamable(url, { apiKey, userId: 'alice' });
    mallory = await connectStreamable(url, { apiKey, userId: 'mallory' });
  }, 1_800_000);

  afterAll(async () => {
    await alice?.close();
    await mallory?.close();
    // An attack that got through may have left the bucket unreadable to its owner: give it back before removing it.
    await container?.exec(['chmod', '-R', 'u+rwx', '/data']).catch(() => undefined);
    await container?.stop();
    if (bucket) rmSync(bucket, { recursive: true, force: true });
  });

  // A known gap, kept as an expected failure so that fixing it turns this red: the server's own `find -P <slot dirs>`
  // (src/files/usage.ts, the quota watchdog) shows slot paths in its command line. Since the seccomp filter
  // refuses chmod/chown/xattr by path, a known path allows only stat, utime and connecting to sockets there.
  it.fails('does not show another session’s slot paths in any command line', async () => {
    const marker = `scanning-${randomBytes(6).toString('hex')}`;
    const scan = python(
      mallory,
      `import json, os, re
found = set()
open('/mnt/data/${marker}', 'w').close()
while not os.path.exists('/mnt/data/${marker}.stop'):
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            with open(f'/proc/{pid}/cmdline', 'rb') as f:
                found.update(re.findall(rb'slots/[0-9a-zA-Z_-]+', f.read()))
        except OSError:
            pass
print(json.dumps(sorted(path.decode() for path in found)))`,
      60,
    );
    let markers: string[] = [];
    while ((markers = findNamed(path.join(bucket, 'codecell'), marker)).length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 200)); // polls the bucket; the marker is the signal
    }
    // Alice's runs start new runners (each run uses one and the pool starts the next) while Mallory scans.
    for (let call = 0; call < 6; call += 1) expect((await python(alice, 'print(6 * 7)')).stdout).toBe('42\n');
    writeFileSync(`${markers[0]}.stop`, '');
    const out = await scan;
    expect(out.status, out.stderr).toBe('ok');
    expect(JSON.parse(out.stdout)).toEqual([]);
  });

  it('leaves no System V shared memory behind a run, beyond every rlimit', async () => {
    const out = await python(
      mallory,
      `import ctypes, json, os
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
made, error = 0, None
for key in range(0x7000, 0x7004):
    shmid = libc.shmget(key, 64 << 20, 0o1600)
    if shmid < 0:
        error = os.strerror(ctypes.get_errno())
        break
    address = libc.shmat(shmid, None, 0)
    ctypes.memset(address, 1, 64 << 20)
    libc.shmdt(ctypes.c_void_p(address))
    made += 1
print(json.dumps({'made': made, 'error': error}))`,
    );
    expect(out.status, out.stderr).toBe('ok');
    const left = (await container.exec(['cat', '/proc/sysvipc/shm'])).trim().split('\n').slice(1);
    expect(left, 'segments left in the Space after the run ended').toEqual([]);
    expect(JSON.parse(out.stdout)).toEqual({ made: 0, error: 'Operation not permitted' });
  });

  // Not tested here: one run holding every task of the shared uid (RLIMIT_NPROC counts all of uid 1000's
  // tasks, the server's and other sessions' too) stops other sessions from forking until its timeout. With no
  // cgroups in a Space there is no fix; docs/security.md lists it as an open gap. A test of it was flaky
  // (whether the hog reaches the limit first depends on the machine), so it is not in the suite.

  it('cannot change the mode or attributes of the server’s data dir', async () => {
    const data = path.join(bucket, 'codecell');
    const before = ['', 'sessions', 'slots', 'signing.key'].map((name) => statSync(path.join(data, name)));
    // Mallory's own call may fail once the server lost its data dir: the bucket tells what happened.
    const attack = await callTool(
      mallory,
      'execute_python_code',
      {
        code: `import json, os
results = {}
def attempt(name, action):
    try:
        action()
        results[name] = 'changed'
    except OSError as e:
        results[name] = e.strerror
attempt('chmod key', lambda: os.chmod('/data/codecell/signing.key', 0o644))
attempt('setxattr key', lambda: os.setxattr('/data/codecell/signing.key', 'user.codecell', b'x'))
attempt('chmod sessions', lambda: os.chmod('/data/codecell/sessions', 0))
attempt('chmod slots', lambda: os.chmod('/data/codecell/slots', 0))
attempt('chmod data dir', lambda: os.chmod('/data/codecell', 0))
print(json.dumps(results))`,
      },
      { timeoutMs: 300_000 },
    );
    const reported = ExecutionOutputSchema.safeParse(attack.structuredContent);
    if (reported.success) {
      const results = JSON.parse(reported.data.stdout) as Record<string, string>;
      expect(Object.keys(results)).toHaveLength(5);
      expect(Object.entries(results).filter(([, outcome]) => outcome === 'changed')).toEqual([]);
    }
    const after = ['', 'sessions', 'slots', 'signing.key'].map((name) => statSync(path.join(data, name)));
    expect(after.map((stat) => stat.mode)).toEqual(before.map((stat) => stat.mode));
    // Every other session still works.
    const fresh = await python(alice, 'print(6 * 7)');
    expect(fresh.stdout).toBe('42\n');
  });
});
