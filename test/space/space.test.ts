/**
 * Codecell played as a Hugging Face Space: the image `npm run space` exports, built here, run as a
 * Space runs it (uid 1000, every capability dropped, no-new-privileges, Docker's default seccomp, no
 * Docker socket; CODECELL_EXECUTOR=process), with a host folder at /data standing in for the Storage
 * Bucket. The official MCP SDK client drives it end to end; then each attack runs as real code and
 * must fail, with the server alive after it.
 *
 * The image's PID 1 is tini, so the server is an ordinary process that a signal could reach (the
 * kernel shields a PID 1 from signals sent inside its namespace, which would make the signal attack
 * pass for the wrong reason). One flag beyond the Space's own: --pids-limit/--memory as a safety net
 * for this shared machine, far above the sandbox's own limits so they cannot be what stops an attack.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecutionOutputSchema } from '../../src/interfaces/mcp/render-result.js';
import { callTool, connectStreamable, imagesOf, isPng } from '../interfaces/helpers/mcp-client.js';
import { freePort } from '../interfaces/helpers/test-server.js';
import { spaceServerFlags, startSpaceContainer, type SpaceContainer } from './space-container.js';
import { buildSpaceImage } from '../../scripts/space/space-image.js';

const MiB = 1024 * 1024;
const MEMORY_MB = 256;
const QUOTA_MB = 64;
type Output = ReturnType<typeof ExecutionOutputSchema.parse>;
type Language = 'python' | 'javascript' | 'bash';
const TOOL: Record<Language, { tool: string; field: string }> = {
  python: { tool: 'execute_python_code', field: 'code' },
  javascript: { tool: 'execute_javascript_code', field: 'code' },
  bash: { tool: 'execute_bash_command', field: 'command' },
};

/**
 * Every regular file under `dir` (symbolic links not followed). The server keeps changing the data
 * dir (warm runners' slots come and go): a folder gone meanwhile holds nothing.
 */
function filesUnder(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return entries.flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return filesUnder(full);
    return entry.isFile() ? [full] : [];
  });
}

/** Bytes of the regular files under `dir`; a file the server removes meanwhile (a run's slot being emptied) counts 0. */
function bytesUnder(dir: string): number {
  return filesUnder(dir).reduce((total, file) => total + (statSync(file, { throwIfNoEntry: false })?.size ?? 0), 0);
}

describe('Codecell as a Hugging Face Space (process executor)', () => {
  const apiKey = `space-key-${randomBytes(16).toString('hex')}`;
  let image: string;
  let bucket: string;
  let container: SpaceContainer;
  let alice: Client;
  let mallory: Client;
  let signingKey: string;
  let listener: net.Server;
  let listenerPort: number;
  let connections = 0;
  let connected: Promise<void>;

  async function run(client: Client, language: Language, source: string, extra: Record<string, unknown> = {}): Promise<Output> {
    const { tool, field } = TOOL[language];
    const result = await callTool(client, tool, { [field]: source, ...extra }, { timeoutMs: 180_000 });
    return ExecutionOutputSchema.parse(result.structuredContent);
  }

  /** The server still runs and answers a fresh run correctly. */
  async function stillServing(): Promise<void> {
    expect(await container.running(), container.logs().slice(-3000)).toBe(true);
    const out = await run(alice, 'python', 'print(6 * 7)');
    expect(out.stdout).toBe('42\n');
  }

  beforeAll(async () => {
    image = await buildSpaceImage();
    bucket = mkdtempSync(path.join(os.tmpdir(), 'codecell-space-bucket-'));
    chmodSync(bucket, 0o777); // the bucket is writable by the Space's user, as Hugging Face mounts it
    listener = net.createServer((socket) => {
      connections += 1;
      socket.destroy();
    });
    connected = new Promise((resolve) => listener.once('connection', () => resolve()));
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    listenerPort = (listener.address() as net.AddressInfo).port;
    const port = await freePort();
    container = await startSpaceContainer(image, [
      ...spaceServerFlags(bucket, apiKey, port),
      '-e', `CODECELL_MEMORY_MB=${MEMORY_MB}`,
      '-e', `CODECELL_SESSION_QUOTA_MB=${QUOTA_MB}`,
      '-e', 'CODECELL_POOL_PYTHON=1',
      '-e', 'CODECELL_POOL_PYTHON_LEAN=1',
      '-e', 'CODECELL_POOL_NODE=1',
      '-e', 'CODECELL_POOL_BASH=1',
    ]);
    const url = `http://127.0.0.1:${port}`;
    alice = await connectStreamable(url, { apiKey, userId: 'alice' });
    mallory = await connectStreamable(url, { apiKey, userId: 'mallory' });
    signingKey = readFileSync(path.join(bucket, 'codecell', 'signing.key'), 'utf8').trim();
  }, 1_800_000);

  afterAll(async () => {
    await alice?.close();
    await mallory?.close();
    await container?.stop();
    listener?.close();
    if (bucket) rmSync(bucket, { recursive: true, force: true });
  });

  describe('end to end through the official MCP client', () => {
    it('keeps its data in the bucket mounted at /data', () => {
      expect(signingKey).toMatch(/^[0-9a-f]{64}$/);
      expect(statSync(path.join(bucket, 'codecell')).isDirectory()).toBe(true);
    });

    it('keeps state across calls in python, javascript and bash', async () => {
      await run(alice, 'python', 'x = 20');
      expect((await run(alice, 'python', 'print(x + 22)')).stdout).toBe('42\n');
      await run(alice, 'javascript', 'let y = 5; const f = (n) => n * y;');
      expect((await run(alice, 'javascript', 'console.log(f(8) + 2)')).stdout).toBe('42\n');
      await run(alice, 'bash', 'export Z=41; mkdir -p sub && cd sub');
      expect((await run(alice, 'bash', 'echo $((Z + 1)) $(basename "$PWD")')).stdout).toBe('42 sub\n');
    });

    it('returns a matplotlib plot as a PNG image', async () => {
      const result = await callTool(alice, 'execute_python_code', {
        code: 'import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [4, 1, 9])\nplt.title("space")\nplt.show()',
      });
      const images = imagesOf(result);
      expect(images).toHaveLength(1);
      expect(isPng(images[0]?.data ?? '')).toBe(true);
      expect(ExecutionOutputSchema.parse(result.structuredContent).images[0]?.width).toBeGreaterThan(100);
    });

    it('names its isolation and only the languages it can run in get_system_info', async () => {
      const info = await callTool(alice, 'get_system_info');
      const text = info.content.map((part) => (part.type === 'text' ? part.text : '')).join('\n');
      expect(text).toMatch(/sandboxed processes \(NO_NEW_PRIVS/);
      expect(text).toContain('Languages: python, javascript, typescript, bash\n');
      const go = await callTool(alice, 'execute_code', { language: 'go', code: 'package main\nfunc main() {}\n' });
      expect(ExecutionOutputSchema.parse(go.structuredContent).error?.name).toBe('LanguageNotInstalled');
    });

    it('tells the model to use threads when a process pool is refused, and threads work', async () => {
      const pool = await callTool(alice, 'execute_python_code', {
        code: 'from multiprocessing import Pool\nwith Pool(2) as p:\n    print(p.map(abs, [-1, -2]))',
      });
      const output = ExecutionOutputSchema.parse(pool.structuredContent);
      expect(output.error?.name).toBe('PermissionError');
      expect(output.notice).toContain('Use threads instead');
      const threads = await run(alice, 'python', 'from concurrent.futures import ThreadPoolExecutor\nwith ThreadPoolExecutor(2) as p:\n    print(sum(p.map(abs, [-1, -2])))');
      expect(threads.stdout).toBe('3\n');
    });

    it('reads an upload back from /mnt/data in every language, and stores it in the bucket', async () => {
      const csv = 'a,b\n1,2\n3,4\n';
      await callTool(alice, 'upload_file', { filename: 'numbers.csv', content: csv });
      const py = await run(alice, 'python', "import pandas as pd\nprint(int(pd.read_csv('/mnt/data/numbers.csv').values.sum()))");
      expect(py.stdout).toBe('10\n');
      const js = await run(alice, 'javascript', "const fs = require('node:fs'); console.log(fs.readFileSync('/mnt/data/numbers.csv', 'utf8').split('\\n').length)");
      expect(js.stdout).toBe('4\n');
      const sh = await run(alice, 'bash', 'wc -c < /mnt/data/numbers.csv');
      expect(sh.stdout.trim()).toBe(String(csv.length));
      const stored = filesUnder(path.join(bucket, 'codecell')).filter((file) => path.basename(file) === 'numbers.csv');
      expect(stored.map((file) => readFileSync(file, 'utf8'))).toContain(csv);
    });
  });

  describe('attacks, each failing with the server alive after it', () => {
    it('cannot read another session’s file', async () => {
      const secret = `alice-diary-${randomBytes(12).toString('hex')}`;
      await callTool(alice, 'upload_file', { filename: 'diary.txt', content: secret });
      const own = `mallory-note-${randomBytes(12).toString('hex')}`;
      const out = await run(
        mallory,
        'python',
        `import json, os, glob
open('/mnt/data/note.txt', 'w').write(${JSON.stringify(own)})
found, read = set(), 0
def look(path):
    global read
    try:
        with open(path, 'rb') as f:
            data = f.read(1 << 20)
        read += 1
    except Exception:
        return
    for needle in (b'alice-diary-', b'mallory-note-'):
        at = data.find(needle)
        if at >= 0:
            found.add(data[at:at + 40].decode('latin1'))
for root in ('/mnt', '/data', '/home', '/tmp', '/run', '/var/tmp', '/dev/shm', '/opt/codecell-server'):
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames:
            look(os.path.join(dirpath, name))
for path in glob.glob('/proc/[0-9]*/fd/*') + glob.glob('/proc/[0-9]*/cwd/*') + glob.glob('/mnt/data/../*/diary.txt'):
    look(path)
print(json.dumps({'read': read, 'found': sorted(found)}))`,
      );
      const seen = JSON.parse(out.stdout) as { read: number; found: string[] };
      expect(seen.found, 'the scan finds its own session’s file, so it does read files').toContain(own);
      expect(seen.found.join(' ')).not.toContain(secret);
      await stillServing();
    });

    it('cannot read the server’s environment or its keys', async () => {
      const out = await run(
        mallory,
        'python',
        `import glob, json, os, re
sources, text = 0, [repr(dict(os.environ))]
paths = glob.glob('/proc/[0-9]*/environ') + glob.glob('/proc/[0-9]*/cmdline')
paths += glob.glob('/data/**/signing.key', recursive=True) + glob.glob('/home/**/signing.key', recursive=True)
paths += ['/data/codecell/signing.key', '/home/user/codecell-data/signing.key', '/proc/1/environ']
for path in paths:
    try:
        text.append(open(path, 'rb').read().decode('latin1'))
        sources += 1
    except Exception:
        pass
joined = '\\n'.join(text)
print(json.dumps({'sources': sources, 'keys': sorted(set(re.findall(r'space-key-[0-9a-f]{32}|[0-9a-f]{64}', joined)))}))`,
      );
      const seen = JSON.parse(out.stdout) as { sources: number; keys: string[] };
      expect(seen.sources, 'the code read something of /proc (its own process at least)').toBeGreaterThan(0);
      expect(seen.keys).not.toContain(apiKey);
      expect(seen.keys).not.toContain(signingKey);
      await stillServing();
    });

    it('cannot signal or ptrace the server (or any process but its own)', async () => {
      const out = await run(
        mallory,
        'python',
        `import ctypes, json, os, signal, subprocess
child = subprocess.Popen(['sleep', '60'])
os.kill(child.pid, signal.SIGKILL)
own_child_killed = child.wait() == -signal.SIGKILL
ancestors, pid = set(), os.getpid()
while pid > 1:
    ancestors.add(pid)
    try:
        pid = int(open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[1])
    except Exception:
        break
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
traced, signalled, tried = [], [], 0
for name in os.listdir('/proc'):
    if not name.isdigit() or int(name) in ancestors:
        continue
    target = int(name)
    tried += 1
    try:
        what = open(f'/proc/{target}/cmdline', 'rb').read().replace(b'\\0', b' ').decode('latin1')[:80]
    except Exception:
        what = '?'
    if libc.ptrace(16, target, None, None) == 0:  # PTRACE_ATTACH
        traced.append(what)
        libc.ptrace(17, target, None, None)  # PTRACE_DETACH
    for sig in (signal.SIGTERM, signal.SIGSTOP, signal.SIGKILL):
        try:
            os.kill(target, sig)
            signalled.append(what)
        except OSError:
            pass
print(json.dumps({'own_child_killed': own_child_killed, 'tried': tried, 'traced': traced, 'signalled': signalled}))`,
      );
      const seen = JSON.parse(out.stdout) as { own_child_killed: boolean; tried: number; traced: string[]; signalled: string[] };
      expect(seen.own_child_killed, 'kill() works on the code’s own child').toBe(true);
      expect(seen.traced.filter((what) => what.includes('cli.js'))).toEqual([]);
      expect(seen.signalled.filter((what) => what.includes('cli.js') || what.includes('tini'))).toEqual([]);
      await stillServing();
    });

    it('cannot connect to a listener on the host’s loopback', async () => {
      // Outside the sandbox the listener is reachable from the container (shared loopback): the
      // checks below would see a connection if the sandbox let one through.
      await container.exec(['bash', '-c', `exec 3<>/dev/tcp/127.0.0.1/${listenerPort}`]);
      await connected;
      const reachable = connections;
      const outs = await Promise.all([
        run(mallory, 'python', `import socket\ntry:\n    socket.create_connection(('127.0.0.1', ${listenerPort}), timeout=5).sendall(b'x')\n    print('connected')\nexcept OSError as e:\n    print('refused', e.errno)`),
        run(mallory, 'javascript', `const net = require('node:net');\nawait new Promise((resolve) => { const s = net.connect(${listenerPort}, '127.0.0.1', () => { console.log('connected'); s.end(); resolve(); }); s.on('error', (e) => { console.log('refused', e.code); resolve(); }); });`),
        run(mallory, 'bash', `(exec 3<>/dev/tcp/127.0.0.1/${listenerPort}) 2>/dev/null && echo connected || echo refused; curl -s -m 5 http://127.0.0.1:${listenerPort}/ >/dev/null && echo connected || echo refused`),
      ]);
      for (const out of outs) {
        expect(out.stdout).toMatch(/refused/);
        expect(out.stdout).not.toMatch(/connected/);
      }
      expect(connections).toBe(reachable);
      await stillServing();
    });

    it('stops a fork bomb below the safety net, and a classic bash one', async () => {
      const out = await run(
        mallory,
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
        { timeout: 30 },
      );
      if (out.status === 'ok') {
        const seen = JSON.parse(out.stdout) as { forks: number; error: string | null };
        expect(seen.error).toMatch(/Resource temporarily unavailable|Cannot allocate memory/);
        expect(seen.forks).toBeLessThan(2048);
      } else {
        expect(['killed', 'timeout', 'oom']).toContain(out.status);
      }
      const classic = await run(mallory, 'bash', 'bomb() { bomb | bomb & }; bomb; sleep 600', { timeout: 5 });
      expect(['timeout', 'killed']).toContain(classic.status);
      await stillServing();
    });

    it('ends a memory bomb as out of memory', async () => {
      const out = await run(mallory, 'python', 'hoard = []\nwhile True:\n    hoard.append(bytearray(8 * 1024 * 1024))', { timeout: 60 });
      expect(['oom', 'error']).toContain(out.status);
      if (out.status === 'error') expect(out.error?.name).toBe('MemoryError');
      await stillServing();
    });

    it('cannot fill the disk: /mnt/data stops at the quota, scratch space at its cap', async () => {
      const out = await run(
        mallory,
        'python',
        `import json, os, tempfile
def fill(folder):
    os.makedirs(folder, exist_ok=True)
    written, error = 0, None
    block = b'\\0' * (1 << 20)
    try:
        for i in range(2048):
            with open(os.path.join(folder, f'{i}.bin'), 'wb') as f:
                f.write(block)
            written += len(block)
    except OSError as e:
        error = e.strerror
    return {'written': written, 'error': error}
print(json.dumps({'tmp': fill(os.path.join(tempfile.gettempdir(), 'fill')), 'data': fill('/mnt/data/fill')}), flush=True)`,
        { timeout: 120 },
      );
      // Stopped either way: the run killed at the quota, or each write refused; never all 2 GiB.
      if (out.status === 'ok') {
        const seen = JSON.parse(out.stdout) as Record<'tmp' | 'data', { written: number; error: string | null }>;
        expect(seen.tmp.written).toBeLessThan(2048 * MiB);
        expect(seen.data.written).toBeLessThan(2048 * MiB);
      } else {
        expect(out.status).toBe('killed');
      }
      expect(bytesUnder(bucket)).toBeLessThan(1024 * MiB);
      await stillServing();
    });

    it('kills an endless loop that ignores SIGTERM, with its children', async () => {
      const marker = `sigterm-proof-${randomBytes(6).toString('hex')}`;
      const out = await run(
        mallory,
        'python',
        `import signal, subprocess
for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(sig, signal.SIG_IGN)
subprocess.Popen(['python3', '-c', 'import signal\\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\\nwhile True: pass', '${marker}'])
while True:
    pass`,
        { timeout: 3 },
      );
      expect(out.status).toBe('timeout');
      const left = await container.exec(['ps', '-eo', 'args']);
      expect(left).not.toContain(marker);
      await stillServing();
    });
  });

  describe('after a crash', () => {
    it('docker rm -f, then a new container (another host name) on the same bucket starts and keeps the session', async () => {
      const before = await run(alice, 'python', "open('/mnt/data/before-crash.txt', 'w').write('kept across the crash')\nprint('written')");
      expect(before.stdout).toBe('written\n');
      const sessionId = before.session_id;
      await container.stop(); // docker rm -f: the server gets SIGKILL, its owner record stays in the bucket
      expect(readFileSync(path.join(bucket, 'codecell', 'owner.json'), 'utf8')).toContain('"pid"');
      const port = await freePort();
      container = await startSpaceContainer(image, [
        ...spaceServerFlags(bucket, apiKey, port),
        // As on Hugging Face, the new container has a host name of its own: the old record is foreign, its lease must lapse.
        '--hostname', `space-restarted-${randomBytes(4).toString('hex')}`,
        '-e', `CODECELL_MEMORY_MB=${MEMORY_MB}`,
        '-e', `CODECELL_SESSION_QUOTA_MB=${QUOTA_MB}`,
      ]);
      // Taken over either way the record is judged: a foreign record whose lease lapsed, or (when the kernel
      // reuses the dead container's pid namespace number) a record of this namespace whose process is gone.
      expect(container.logs()).toMatch(/whose lease had lapsed|took over the data dir from an engine that is gone/);
      await alice.close();
      alice = await connectStreamable(`http://127.0.0.1:${port}`, { apiKey, userId: 'alice' });
      const after = await run(alice, 'python', "print(open('/mnt/data/before-crash.txt').read())", { session_id: sessionId });
      expect(after.stdout).toBe('kept across the crash\n');
      expect(after.session_id).toBe(sessionId);
    });
  });
});
