/**
 * Resource attacks: each is a real program that tries to exhaust something (processes, memory,
 * scratch space, the session's disk quota, time, output, images) or to outlive its run. Each must
 * be stopped by a limit, reported clearly, and leave the server and other sessions untouched.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docker, eventually } from './helpers/docker.js';
import { Harness, LIMITS, random, RUNTIME } from './helpers/harness.js';

const MB = 1024 * 1024;
let h: Harness;

beforeAll(async () => {
  h = await Harness.start({ pools: { pythonLean: 1, python: 1, bash: 1 } });
});

afterAll(async () => {
  await h?.close();
});

/** Resolves once Docker no longer knows the container (removed after its run). */
async function containerGone(hostname: string): Promise<boolean> {
  const exists = async () => {
    const listed = await docker.listContainers({ all: true });
    return listed.some((info) => info.Id.startsWith(hostname));
  };
  return !(await eventually(exists, (present) => !present, h.budget(20) * 10));
}

describe('processes', () => {
  it('stops a fork bomb at the pids limit', async () => {
    const out = await h.exec(
      'python',
      `import json, os
forks, error = 0, None
for _ in range(20000):
    try:
        pid = os.fork()
    except OSError as e:
        error = e.strerror
        break
    if pid == 0:
        os.execv('/bin/sleep', ['sleep', '60'])
    forks += 1
print(json.dumps({'forks': forks, 'error': error}))`,
    );
    if (RUNTIME === 'runc') {
      expect(out.status, out.stderr).toBe('ok');
      const seen = JSON.parse(out.stdout) as { forks: number; error: string | null };
      expect(seen.error, 'fork() failed before 20000 children').toMatch(/Resource temporarily unavailable|Cannot allocate memory/);
      expect(seen.forks).toBeLessThan(LIMITS.pids);
    } else {
      // gVisor's own kernel needs host threads under the same pids limit: the sandbox as a whole
      // is stopped (or the fork fails) long before 20000 children.
      expect(out.stdout).not.toMatch(/"forks": 20000/);
      if (out.status === 'ok') expect(out.stdout).toMatch(/"error": "(Resource temporarily unavailable|Cannot allocate memory)"/);
      else expect(['killed', 'oom', 'timeout']).toContain(out.status);
    }
    await h.stillServing();
  });

  it('contains a classic bash fork bomb, and another session runs meanwhile', async () => {
    const bomb = h.start('bash', 'echo lighting; bomb() { bomb | bomb & }; bomb; sleep 600', { timeout: h.budget(5) });
    // While the bomb goes off, a bystander session still gets its run (concurrency 2).
    await bomb.printed('lighting');
    const other = await h.exec('python', 'print(sum(range(10)))', { session: await h.newSession() });
    expect(other.status, other.stderr).toBe('ok');
    expect(other.stdout).toBe('45\n');
    // runc: the bomb hits the pids limit and the run lasts until its time limit, so the other
    // session's run went through while the bomb was live. gVisor: its kernel cannot get host threads
    // either, and the whole sandbox may die first.
    if (RUNTIME === 'runc') expect(bomb.ended, 'the bomb was still running when the other run finished').toBe(false);
    const out = await bomb.result;
    if (RUNTIME === 'runc') expect(out.status).toBe('timeout');
    else expect(['timeout', 'killed', 'oom']).toContain(out.status);
    await h.stillServing();
  });

  it('kills a process that double-forks, calls setsid and nohups itself to outlive its run', async () => {
    const session = await h.newSession();
    const started = await h.exec(
      'python',
      `import os, signal, socket, subprocess, time
print(socket.gethostname())
# 1: nohup + setsid + a subshell that ignores TERM and HUP, disowned
subprocess.run(['sh', '-c', "nohup setsid sh -c 'trap \\"\\" TERM HUP; while :; do date +%s%N >> /mnt/data/ticks.txt; sleep 0.1; done' >/dev/null 2>&1 &"])
# 2: the classic daemon double fork, ignoring every polite signal
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
        while True:
            with open('/mnt/data/ticks-py.txt', 'a') as f:
                f.write('tick\\n')
            time.sleep(0.1)
    os._exit(0)
def ticks():
    counts = []
    for name in ('ticks.txt', 'ticks-py.txt'):
        try:
            counts.append(sum(1 for _ in open(f'/mnt/data/{name}')))
        except OSError:
            counts.append(0)
    return counts
while min(ticks()) < 2:   # until both have ticked twice (the run's time limit bounds the wait)
    time.sleep(0.05)
print('ticking:', *ticks())`,
      { session },
    );
    expect(started.status, started.stderr).toBe('ok');
    expect(started.stdout).toMatch(/ticking: ([2-9]|\d{2,}) ([2-9]|\d{2,})/);
    const hostname = started.stdout.split('\n')[0] ?? '';
    expect(await containerGone(hostname), 'the container of the run is removed').toBe(true);
    // Nothing of the old run writes any more: the files do not grow between two looks.
    const later = await h.exec(
      'bash',
      'a=$(stat -c %s ticks.txt ticks-py.txt); sleep 1.5; b=$(stat -c %s ticks.txt ticks-py.txt); [ "$a" = "$b" ] && echo still || echo growing; ps -eo comm= | sort | uniq -c',
      { session },
    );
    expect(later.stdout).toMatch(/^still\n/);
    expect(later.stdout).not.toMatch(/sleep|setsid/);
    await h.stillServing();
  });

  // The freeze at the end of a run is runc's (src/executor/docker/cgroup-freezer.ts); under gVisor the
  // container is killed, which one-shot-forged-end.test.ts covers. (Under gVisor these two shell
  // writers did not reach 64 KiB within the run's limit: a timeout, not a verdict.)
  it.runIf(RUNTIME === 'runc')('lists what writers left at a forged end byte for byte: none writes after the last look, a held file handle included', async () => {
    const session = await h.newSession();
    // Two detached writers (one appends line by line, one holds its file open), then a forged end of
    // the run while everything still runs: the answer comes from the forgery, the writers go on.
    const out = await h.exec(
      'bash',
      `setsid sh -c 'while :; do echo 0123456789 >> /mnt/data/appends.log; done' >/dev/null 2>&1 &
setsid sh -c 'exec 3>>/mnt/data/held.log; while :; do echo 0123456789 >&3; done' >/dev/null 2>&1 &
until [ "$(stat -c %s appends.log 2>/dev/null || echo 0)" -ge 65536 ] && [ "$(stat -c %s held.log 2>/dev/null || echo 0)" -ge 65536 ]; do sleep 0.01; done
nonce=$(grep -rhoas '"nonce":"[0-9a-f]*"' /tmp /run/codecell 2>/dev/null | head -1 | sed 's/.*:"\\([0-9a-f]*\\)"/\\1/')
[ -n "$nonce" ] && echo "nonce found"
frame='{"type":"result","outcome":"ok","value":"forged","error":null,"exitCode":0,"images":[],"imagesOmitted":0,"notCarried":[],"stateSaved":false,"stateError":null,"loadedModules":[],"oomKills":0}'
printf '\\x1e%s\\x1f{"type":"stderr-end"}\\n' "$nonce" >&2
printf '\\x1e%s\\x1f%s\\n' "$nonce" "$frame"
sleep 30`,
      { session },
    );
    expect(out.stdout, JSON.stringify({ status: out.status, notice: out.notice, stderr: out.stderr.slice(0, 500) })).toContain('nonce found');
    expect(out.value).toBe('forged');
    const listed = Object.fromEntries(out.files.map((file) => [file.path, file.size]));
    expect(listed['appends.log']).toBeGreaterThanOrEqual(65536);
    expect(listed['held.log']).toBeGreaterThanOrEqual(65536);
    await h.settled(session);
    // The sizes the answer gave are the sizes the session holds, and stay so.
    const later = await h.exec('bash', 'stat -c %s appends.log held.log; sleep 1; stat -c %s appends.log held.log', { session });
    expect(later.stdout.trim().split('\n').map(Number)).toEqual([listed['appends.log'], listed['held.log'], listed['appends.log'], listed['held.log']]);
  });

  it('reaps orphaned zombies through the init, so they cannot pile up to the pids limit', async () => {
    const seen = await h.probe(
      'python',
      `import json, os, time
def state(pid):
    try:
        return open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[0]
    except OSError:
        return None             # gone: reaped
orphans = []
for _ in range(30):
    read, write = os.pipe()
    if os.fork() == 0:          # child: make a grandchild, then leave it an orphan
        grandchild = os.fork()
        if grandchild == 0:
            os._exit(0)         # the grandchild exits at once: a zombie unless someone reaps it
        os.write(write, str(grandchild).encode())
        os._exit(0)
    os.close(write)
    orphans.append(int(os.read(read, 32)))
    os.close(read)
    os.wait()
print('orphaned', len(orphans), flush=True)
# Wait until the init has reaped every orphan: an init that does not leaves them zombies, and then
# this loop runs into the time limit, which fails the test as inconclusive.
rounds = 0
while any(state(pid) is not None for pid in orphans):
    rounds += 1
    time.sleep(0.05)
zombies = [pid for pid in filter(str.isdigit, os.listdir('/proc')) if state(pid) == 'Z']
print(json.dumps({'orphans': len(orphans), 'rounds': rounds, 'zombies': zombies}))`,
    );
    expect(seen.orphans).toBe(30);
    expect(seen.zombies).toEqual([]);
    await h.stillServing();
  });
});

describe('memory and scratch space', () => {
  it('ends a memory bomb as out of memory', async () => {
    const out = await h.exec('python', 'hoard = []\nwhile True:\n    hoard.append(bytearray(8 * 1024 * 1024))');
    if (RUNTIME === 'runc') {
      expect(out.status).toBe('oom');
      expect(out.notice).toMatch(new RegExp(`out of memory \\(limit ${LIMITS.memoryMb} MiB\\)`));
    } else {
      // gVisor may refuse the allocation itself (MemoryError) before the cgroup's OOM killer acts.
      expect(['oom', 'killed', 'error']).toContain(out.status);
      if (out.status === 'error') expect(out.error?.name).toBe('MemoryError');
    }
    await h.stillServing();
  });

  it('ends a memory bomb in a child process and keeps the parent’s session', async () => {
    const session = await h.newSession();
    await h.exec('python', 'kept = 41', { session });
    const out = await h.exec(
      'python',
      `import subprocess
subprocess.run(['python3', '-c', 'x = []\\nwhile True: x.append(bytearray(8 << 20))'])
kept += 1`,
      { session },
    );
    expect(['oom', 'ok', 'killed', 'error']).toContain(out.status);
    if (RUNTIME === 'runc') expect(out.status).toBe('oom');
    const after = await h.exec('python', 'print(kept)', { session });
    expect(Number(after.stdout.trim())).toBeGreaterThanOrEqual(41);
    await h.stillServing();
  });

  it('caps /tmp, /dev/shm and the artifacts tmpfs at their sizes', async () => {
    const seen = await h.probe(
      'python',
      `import json
def fill(path):
    written, error = 0, None
    chunk = b'\\0' * (1 << 20)
    try:
        with open(path, 'wb') as f:
            for _ in range(1024):
                f.write(chunk); f.flush(); written += len(chunk)
    except OSError as e:
        error = e.strerror
    return {'written': written, 'error': error}
print(json.dumps({p: fill(p + '/fill') for p in ('/tmp', '/dev/shm', '/run/codecell/artifacts')}))`,
    );
    for (const [where, outcome] of Object.entries(seen as Record<string, { written: number; error: string | null }>)) {
      expect(outcome.error, where).toMatch(/No space left on device|File too large|Cannot allocate memory/);
      expect(outcome.written, where).toBeLessThanOrEqual(LIMITS.tmpfsMb * MB);
    }
    await h.stillServing();
  });
});

describe('the session’s disk quota (/mnt/data)', () => {
  it('refuses a single file larger than the quota', async () => {
    const seen = await h.probe(
      'python',
      `import json, os
written, error = 0, None
try:
    with open('/mnt/data/big.bin', 'wb') as f:
        for _ in range(${LIMITS.quotaMb * 3}):
            f.write(b'\\0' * (1 << 20)); f.flush(); written += 1 << 20
except OSError as e:
    error = e.strerror
print(json.dumps({'written': written, 'error': error, 'size': os.path.getsize('/mnt/data/big.bin')}))`,
      { session: await h.newSession() },
    );
    expect(seen.error).toMatch(/File too large/);
    expect(seen.size).toBeLessThanOrEqual(LIMITS.quotaMb * MB);
    await h.stillServing();
  });

  /** Python that writes 1 MiB files into `dir` until stopped (up to 100 GB if nothing stops it). */
  const FILL = (dir: string) => `import os
os.makedirs(${JSON.stringify(dir)}, exist_ok=True)
block = b'\\0' * (1 << 20)
for i in range(100000):
    with open(f'${dir}/{i}.bin', 'wb') as f:
        f.write(block)
print('wrote everything')`;

  async function usageOf(session: string): Promise<number> {
    const out = await h.exec('bash', 'du -sb /mnt/data | cut -f1', { session });
    return Number(out.stdout.trim());
  }

  it('stops a run that fills /mnt/data past the quota with many files', async () => {
    const session = await h.newSession();
    const out = await h.exec('python', FILL('flood'), { session });
    expect(out.status).toBe('killed');
    expect(out.notice).toMatch(/quota of 20 MiB: the run was stopped/);
    expect(out.stdout).not.toContain('wrote everything');
    // Over the quota by what was written while the watchdog looked (a fraction of a second), not
    // by the 100 GB the loop would write.
    expect(await usageOf(session)).toBeLessThan(1024 * MB);
    await h.stillServing();
  });

  // KNOWN WEAKNESS (docs/security.md, "Not covered"): a session already over its quota may not
  // grow, but each run still adds what it writes before the watchdog's next look (~100 MB here).
  // Whether the fix refuses such runs or stops their writes, this case then passes: remove `.fails`.
  it.fails('does not let a session over its quota grow any further, run after run', async () => {
    const session = await h.newSession();
    await h.exec('python', FILL('first'), { session });
    const before = await usageOf(session);
    expect(before).toBeGreaterThan(LIMITS.quotaMb * MB);
    const again = await h.run('python', FILL('second'), { session });
    expect(again.out?.stdout ?? '').not.toContain('wrote everything');
    expect(await usageOf(session)).toBeLessThanOrEqual(before + MB);
  });

  // Empty files cost no bytes but do cost inodes: the watchdog also caps the number of entries
  // (CODECELL_SESSION_MAX_FILES, 2000 in this suite).
  it('stops a run that makes empty files without end (inode flood)', async () => {
    const session = await h.newSession();
    const out = await h.exec(
      'python',
      `import os
os.makedirs('inodes', exist_ok=True)
for i in range(10**7):
    open(f'inodes/{i}', 'w').close()
print('made everything')`,
      { session },
    );
    expect(out.status).toBe('killed');
    expect(out.notice).toMatch(/at most 20 MiB and 2000 files/);
    expect(out.stdout).not.toContain('made everything');
  });

  it('keeps serving after the quota attacks above, the expected failures included', async () => {
    await h.stillServing();
  });
});

describe('time', () => {
  it('stops an infinite loop at the timeout and keeps the state from before', async () => {
    const session = await h.newSession();
    await h.exec('python', 'before = "kept"', { session });
    const out = await h.exec('python', 'before = "lost"\nwhile True:\n    pass', { session, timeout: 3 });
    expect(out.status).toBe('timeout');
    expect(out.notice).toMatch(/timed out after 3 s/);
    const after = await h.exec('python', 'print(before)', { session });
    expect(after.stdout).toBe('kept\n');
    await h.stillServing();
  });

  it('kills a loop that ignores SIGTERM (and SIGINT, SIGHUP), with every child, and removes its container', async () => {
    const out = await h.exec(
      'python',
      `import os, signal, socket, subprocess
for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(sig, signal.SIG_IGN)
print(socket.gethostname(), flush=True)
subprocess.Popen(['python3', '-c', 'import signal\\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\\nwhile True: pass'])
while True:
    pass`,
      { timeout: 3 },
    );
    expect(out.status).toBe('timeout');
    const hostname = out.stdout.split('\n')[0] ?? '';
    expect(hostname).toMatch(/^[0-9a-f]{12}$/);
    expect(await containerGone(hostname)).toBe(true);
    await h.stillServing();
  });
});

describe('output', () => {
  it('cuts an endless stdout flood and stops the run', async () => {
    const out = await h.exec('bash', 'yes "flood flood flood flood flood flood flood flood"', { timeout: 6 });
    expect(['killed', 'timeout']).toContain(out.status);
    expect(out.stdout.length).toBeLessThanOrEqual(LIMITS.maxOutputChars + 200);
    expect(out.stdout_truncated_chars).toBeGreaterThan(0);
    await h.stillServing();
  });

  it('cuts a stderr flood of long lines without newlines', async () => {
    const out = await h.exec('python', `import sys\nfor _ in range(200):\n    sys.stderr.write('E' * 1000000)`);
    expect(out.stderr.length).toBeLessThanOrEqual(LIMITS.maxOutputChars + 200);
    expect(out.stderr_truncated_chars).toBeGreaterThan(0);
    await h.stillServing();
  });

  it('caps a trailing value of 100 million characters', async () => {
    const out = await h.exec('python', "'v' * 100_000_000");
    expect(out.status).toBe('ok');
    expect(out.value?.length ?? 0).toBeLessThanOrEqual(10_100);
    await h.stillServing();
  });

  it('returns at most the image limit from a flood of figures and PNG files', async () => {
    // Drawing 80 figures is real work: a run cut by its time limit is tried again, never judged.
    const run = await h.runToEnd(
      'python',
      `import matplotlib.pyplot as plt
for i in range(40):
    fig = plt.figure(figsize=(1, 1), dpi=50)
    plt.plot([0, i])
for i in range(40):
    fig = plt.figure(figsize=(1, 1), dpi=50)
    fig.savefig(f'/mnt/data/flood-{i}.png')
    plt.close(fig)
print('drawn')`,
      'drawn',
      { session: await h.newSession() },
    );
    expect(run.out.status, `${run.out.notice} ${run.out.stderr}`).toBe('ok');
    const images = run.raw.content.filter((part) => part.type === 'image');
    expect(images.length).toBeLessThanOrEqual(LIMITS.maxImages);
    expect(run.out.images.length).toBe(images.length);
    expect(run.out.images_omitted).toBeGreaterThanOrEqual(80 - LIMITS.maxImages);
    await h.stillServing();
  });
});

describe('fairness (functional; figures come from scripts/fairness.ts)', () => {
  it('lets another session run while one burns every CPU it can get', async () => {
    // The hog burns until the test has seen the other run through, then the test cancels it.
    const hog = h.start(
      'python',
      `import multiprocessing, time
def burn():
    while True: pass
for _ in range(8):
    multiprocessing.Process(target=burn, daemon=True).start()
print('burning', flush=True)
time.sleep(600)`,
      { timeout: h.budget(5 * LIMITS.timeoutSeconds) },
    );
    try {
      await hog.printed('burning');
      const token = random('fair');
      const other = await h.exec('python', `print(${JSON.stringify(token)})`, { session: await h.newSession() });
      expect(other.status).toBe('ok');
      expect(other.stdout).toBe(`${token}\n`);
      if (RUNTIME === 'runc') {
        expect(hog.ended, 'the hog was still burning when the other run finished').toBe(false);
      } else if (hog.ended) {
        // gVisor's processes cost more memory: the hog may have been stopped first.
        expect(['timeout', 'oom', 'killed']).toContain((await hog.result).status);
      }
    } finally {
      await hog.cancel();
    }
    await h.stillServing();
  });
});
