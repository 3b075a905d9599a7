/**
 * Secret attacks: a program that looks for what belongs to the host, the server or other sessions
 * (environment, process list, files, the Docker socket, kernel logs, API keys) and finds only its
 * own container.
 */
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_KEY } from '../interfaces/helpers/test-server.js';
import { Harness, random, RUNTIME } from './helpers/harness.js';

const SERVER_SECRET = random('server-secret');
let h: Harness;

beforeAll(async () => {
  process.env.CODECELL_SECRETS_CANARY = SERVER_SECRET;
  h = await Harness.start({ pools: { pythonLean: 1, bash: 1 } });
});

afterAll(async () => {
  delete process.env.CODECELL_SECRETS_CANARY;
  await h?.close();
});

/** Python that lists every process it can see: pid → {cmdline, environ names}. */
const LIST_PROCESSES = `import json, os
def read(pid, what):
    try:
        return open(f'/proc/{pid}/{what}', 'rb').read().decode('latin1')
    except OSError as e:
        return 'ERR ' + e.strerror
procs = {pid: {'cmdline': read(pid, 'cmdline').replace('\\0', ' ').strip(), 'environ': read(pid, 'environ')}
         for pid in filter(str.isdigit, os.listdir('/proc'))}`;

describe('the host’s and the server’s processes', () => {
  it('sees its own init as /proc/1, whose environment holds nothing of the server', async () => {
    const seen = await h.probe('python', `${LIST_PROCESSES}\nprint(json.dumps(procs.get('1')))`);
    expect(seen.cmdline).toMatch(/^\/sbin\/docker-init -- \/opt\/codecell\/runner/);
    expect(seen.environ).not.toContain(SERVER_SECRET);
    expect(seen.environ).not.toContain(TEST_KEY);
    expect(seen.environ).not.toMatch(/CODECELL_SECRETS_CANARY|CODECELL_API_KEYS|DOCKER_HOST/);
    await h.stillServing();
  });

  it('sees no host process in /proc: not the server, not dockerd, not the host’s init', async () => {
    const serverPid = process.pid;
    const seen = await h.probe(
      'python',
      `${LIST_PROCESSES}
import ctypes, errno
libc = ctypes.CDLL(None, use_errno=True)
signalled = libc.kill(${serverPid}, 0)
print(json.dumps({'cmdlines': [p['cmdline'] for p in procs.values()], 'kill_server': [signalled, ctypes.get_errno()]}))`,
    );
    const cmdlines = seen.cmdlines as string[];
    expect(cmdlines.length).toBeLessThan(10);
    for (const cmdline of cmdlines) {
      expect(cmdline).toMatch(/^(\/sbin\/docker-init|\/usr\/bin\/python3|python3|\/opt\/codecell\/runner)/);
      expect(cmdline).not.toMatch(/vitest|node_modules|dockerd|containerd|systemd|\/sbin\/init|runsc/);
    }
    // The server's own pid (of the host's pid namespace) names nothing here, or nothing of ours.
    const [result, errno] = seen.kill_server as [number, number];
    if (result !== 0) expect(errno).toBe(3); // ESRCH
    else expect(cmdlines.length).toBeGreaterThan(0);
    await h.stillServing();
  });

  it('cannot read the host kernel’s log, nor reach kernel memory devices', async () => {
    const out = await h.exec(
      'bash',
      `dmesg 2>&1 | head -5; echo "dmesg=\${PIPESTATUS[0]}"
for d in /dev/kmsg /dev/mem /dev/kmem /dev/port /dev/sda /dev/vda /dev/nvme0 /proc/kcore; do [ -r "$d" ] && echo "readable $d" || echo "unreadable $d"; done`,
    );
    expect(out.stdout).not.toMatch(/^readable /m);
    expect(out.stdout.match(/^unreadable /gm)).toHaveLength(8);
    if (RUNTIME === 'runc') {
      expect(out.stdout).toMatch(/read kernel buffer failed: Operation not permitted/);
    } else {
      // gVisor answers with its own kernel's log, never the host's.
      expect(out.stdout).not.toMatch(/Linux version|Command line:|BIOS/);
    }
    await h.stillServing();
  });
});

describe('files of the host, the server and other sessions', () => {
  it('cannot read /etc/shadow, and the setgid helper that may read it gains nothing', async () => {
    const out = await h.exec(
      'bash',
      'cat /etc/shadow 2>&1; echo "cat=$?"; ls -l /etc/shadow; id; /usr/sbin/unix_chkpwd sandbox chkexpiry 2>&1; echo "chkpwd=$?"',
    );
    expect(out.stdout).toMatch(/cat: \/etc\/shadow: Permission denied\ncat=1/);
    expect(out.stdout).not.toMatch(/root:[^:\n]*:\d+:/);
    expect(out.stdout).toMatch(/uid=10001\(sandbox\) gid=10001\(sandbox\) groups=10001\(sandbox\)/);
    await h.stillServing();
  });

  it('finds no Docker socket and no other host socket to talk to', async () => {
    const seen = await h.probe(
      'python',
      `import json, os, socket, stat
found = []
for root, dirs, files in os.walk('/', topdown=True):
    dirs[:] = [d for d in dirs if os.path.join(root, d) not in ('/proc', '/sys')]
    for name in files + dirs:
        try:
            if stat.S_ISSOCK(os.lstat(os.path.join(root, name)).st_mode) or 'docker.sock' in name:
                found.append(os.path.join(root, name))
        except OSError:
            pass
attempts = {}
for path in ('/var/run/docker.sock', '/run/docker.sock', '/run/containerd/containerd.sock', '/var/run/docker/containerd/containerd.sock'):
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path); attempts[path] = 'connected'
    except OSError as e:
        attempts[path] = e.strerror
    finally:
        s.close()
for port in (2375, 2376):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect(('127.0.0.1', port)); attempts[port] = 'connected'
    except OSError as e:
        attempts[port] = e.strerror or str(e)
    finally:
        s.close()
print(json.dumps({'found': found, 'attempts': attempts}))`,
    );
    expect(seen.found).toEqual([]);
    for (const [target, outcome] of Object.entries(seen.attempts as Record<string, string>)) {
      expect(outcome, String(target)).not.toBe('connected');
    }
    await h.stillServing();
  });

  it('cannot reach another session’s files, even knowing where they are on the host', async () => {
    const victim = await h.newSession();
    const token = random('victim-secret');
    await h.exec('python', `open('secret.txt', 'w').write(${JSON.stringify(token)})`, { session: victim });
    const hostFile = `${h.server.settings.dataDir}/sessions/${victim}/files/secret.txt`;
    // The attacker is told the victim's id and the host's data dir, which it should not know.
    // The whole file system is searched: a probe cut by its time limit is retried, never judged.
    const out = await h.finish(
      'bash',
      `T1='${token.slice(0, 10)}'; T2='${token.slice(10)}'
echo "host path: $(cat '${hostFile}' 2>&1)"
echo "via mountinfo: $(awk '$5 == "/mnt/data" { print $4 }' /proc/self/mountinfo)"
for p in ../../../sessions/${victim}/files/secret.txt /proc/self/root${hostFile} /proc/1/root${hostFile}; do cat "$p" 2>&1 | head -c 200; echo; done
grep -rIl -D skip --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev "$T1$T2" / 2>/dev/null | sed 's/^/HIT /'
find / -xdev -name secret.txt 2>/dev/null | sed 's/^/FOUND /'
echo done`,
      'done',
    );
    expect(out.stdout).not.toContain(token);
    expect(out.stdout).not.toMatch(/^HIT |^FOUND /m);
    expect(out.stdout).toMatch(/host path: cat: .*No such file or directory/);
    await h.stillServing();
  });

  it('cannot read the server’s own data: principals, session metadata, histories, snapshots', async () => {
    const seen = await h.probe(
      'python',
      `import json, os
hits = []
for root, dirs, files in os.walk('/', topdown=True):
    dirs[:] = [d for d in dirs if os.path.join(root, d) not in ('/proc', '/sys', '/dev')]
    for name in files:
        if name in ('meta.json', 'history.jsonl') or root.endswith('/principals') or '/sessions/' in root:
            hits.append(os.path.join(root, name))
print(json.dumps({'hits': hits, 'state_dir': sorted(os.listdir('/run/codecell/in')), 'out_dir': sorted(os.listdir('/run/codecell/out'))}))`,
    );
    expect(seen.hits).toEqual([]);
    expect(seen.out_dir).toEqual([]);
    await h.stillServing();
  });
});

describe('the server’s API', () => {
  it('cannot call the server that runs it: its port on loopback is not the host’s loopback', async () => {
    const port = new URL(h.server.url).port;
    const out = await h.exec(
      'bash',
      `curl -sS -m 3 -H 'Authorization: Bearer guessed' http://127.0.0.1:${port}/healthz 2>&1; echo "curl=$?"
(exec 3<>/dev/tcp/127.0.0.1/${port}) 2>&1; echo "tcp=$?"`,
    );
    expect(out.stdout).toMatch(/Failed to connect|Connection refused|Couldn't connect/);
    expect(out.stdout).toMatch(/curl=7/);
    expect(out.stdout).toMatch(/tcp=1/);
    expect(out.stdout).not.toContain('"ok"');
    await h.stillServing();
  });
});

describe('runtime identity', () => {
  it('runs on the kernel the suite was asked for', async () => {
    const out = await h.finish('bash', 'uname -r; cat /proc/version; echo done', 'done');
    const release = out.stdout.split('\n')[0];
    // runc shares the host's kernel; gVisor answers with its own (it calls itself 4.4.0).
    if (RUNTIME === 'runsc') {
      expect(out.stdout).toMatch(/gVisor|4\.4\.0/);
      expect(release).not.toBe(os.release());
    } else {
      expect(release).toBe(os.release());
    }
    await h.stillServing();
  });
});
