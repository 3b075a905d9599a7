/**
 * The process executor where it is meant to run: inside a container that plays a Hugging Face Space
 * (uid 1000, no capabilities, no-new-privileges, Docker's default seccomp profile, no Docker socket,
 * so no user namespaces and no bubblewrap). A driver (process-driver.mjs) runs a real
 * ProcessExecutor there on the compiled server code (the container starts through testcontainers,
 * with host networking: the driver answers on the loopback); sessions and attacks are real code sent
 * through it, and the driver, which plays the server, must survive each attack.
 *
 * The same suite runs a second time in a container that plays a normal Linux box, where user
 * namespaces work (Docker's seccomp, AppArmor and /proc masks lifted, still uid 1000 and no
 * capabilities): there the executor picks bubblewrap.
 *
 * The images: CODECELL_PROCESS_TEST_IMAGE (the Space image) for the Space, else the dev image built
 * here from images/sandbox/dev.Dockerfile on the execution images of CODECELL_IMAGE_PREFIX; the
 * Linux box is always the dev image's bwrap-box stage. CODECELL_PROCESS_TEST_NODE names the Node 20
 * binary in the Space image (default `node20`, as in the dev image).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { GenericContainer, Wait, type StartedTestContainer } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeImage } from '../deploy/server-image.js';
import { freePort } from '../interfaces/helpers/test-server.js';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');
const PREFIX = process.env.CODECELL_IMAGE_PREFIX ?? 'codecell';
const DRIVER_SECRET = `driver-secret-${randomBytes(8).toString('hex')}`;
const QUOTA_MB = 40;

interface RunAnswer {
  status: string;
  stdout: string;
  stderr: string;
  value: string | null;
  error: { name: string; message: string } | null;
  images: number;
  notice: string | null;
  files: string[];
}

interface Info {
  sandbox: { layer: string | null; landlockAbi: number; seccomp: boolean; signalScoping: boolean; tcpRules: boolean; summary: string };
  pid: number;
  uid: number;
  port: number;
  dataDir: string;
}

/** Talks to the driver's loopback HTTP port (host networking: the container's loopback is the host's). */
class Driver {
  constructor(private readonly port: number) {}

  async send<T>(command: Record<string, unknown>): Promise<T> {
    const response = await fetch(`http://127.0.0.1:${this.port}/`, { method: 'POST', body: JSON.stringify(command) });
    const answer = (await response.json()) as { ok: boolean; answer?: unknown; error?: string };
    if (!answer.ok) throw new Error(answer.error);
    return answer.answer as T;
  }

  run(session: string, language: 'python' | 'javascript' | 'bash', code: string, extra: Record<string, unknown> = {}): Promise<RunAnswer> {
    return this.send<RunAnswer>({ op: 'run', session, language, code, ...extra });
  }
}

/**
 * testcontainers has no setters for security options or an init process; the container's host
 * config is theirs to extend.
 */
class SandboxHostContainer extends GenericContainer {
  withSecurityOptions(options: readonly string[]): this {
    this.hostConfig.SecurityOpt = [...options];
    return this;
  }

  withUnmaskedProc(): this {
    this.hostConfig.MaskedPaths = [];
    this.hostConfig.ReadonlyPaths = [];
    return this;
  }

  /** An init as PID 1, as in the Space image (tini): it reaps what the sandboxes orphan (zombies count against RLIMIT_NPROC). */
  withInit(): this {
    this.hostConfig.Init = true;
    return this;
  }
}

interface Mode {
  readonly layer: 'landlock' | 'bwrap';
  readonly title: string;
  readonly target: 'space-like' | 'bwrap-box';
  /** Docker security options beside no-new-privileges. */
  readonly securityOptions: readonly string[];
  /** No masked or read-only /proc paths (docker's systempaths=unconfined): a new proc can be mounted in a user namespace. */
  readonly unmaskProc?: boolean;
}

const MODES: readonly Mode[] = [
  { layer: 'landlock', title: 'a Space-like container (Landlock + seccomp)', target: 'space-like', securityOptions: [] },
  {
    layer: 'bwrap',
    title: 'a Linux box with user namespaces (bubblewrap)',
    target: 'bwrap-box',
    securityOptions: ['seccomp=unconfined', 'apparmor=unconfined'],
    unmaskProc: true,
  },
];

async function testImage(mode: Mode): Promise<string> {
  const given = process.env.CODECELL_PROCESS_TEST_IMAGE;
  if (given && mode.target === 'space-like') return given;
  const tag = `${PREFIX}-process-dev-${mode.target}:latest`;
  const node = await nodeImage();
  await run('docker', ['build', '--network', 'host', '-q', '-f', 'dev.Dockerfile', '--target', mode.target, '--build-arg', `PREFIX=${PREFIX}`, '--build-arg', `NODE_IMAGE=${node}`, '-t', tag, '.'], {
    cwd: path.join(ROOT, 'images/sandbox'),
    maxBuffer: 16 * 1024 * 1024,
  });
  return tag;
}

describe.each(MODES)('process executor in $title', (mode) => {
  let container: StartedTestContainer | undefined;
  let driver: Driver;
  let info: Info;

  beforeAll(async () => {
    const image = await testImage(mode);
    await run('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT });
    process.env.TESTCONTAINERS_HOST_OVERRIDE ??= '127.0.0.1';
    const port = await freePort();
    const starting = new SandboxHostContainer(image);
    if (mode.unmaskProc) starting.withUnmaskedProc();
    container = await starting
      .withNetworkMode('host')
      .withUser('1000')
      .withDroppedCapabilities('ALL')
      .withSecurityOptions(['no-new-privileges', ...mode.securityOptions])
      .withInit()
      .withResourcesQuota({ memory: 2 })
      .withEnvironment({
        DRIVER_PORT: String(port),
        DRIVER_SECRET,
        DRIVER_SETTINGS: JSON.stringify({ CODECELL_SESSION_QUOTA_MB: String(QUOTA_MB) }),
      })
      .withBindMounts([
        { source: ROOT, target: '/repo', mode: 'ro' },
        // This tree's launcher, so that it and the compiled server that starts it are of one version.
        { source: `${ROOT}/images/sandbox/launcher.py`, target: '/opt/codecell/sandbox/launcher.py', mode: 'ro' },
      ])
      .withEntrypoint([mode.target === 'space-like' ? (process.env.CODECELL_PROCESS_TEST_NODE ?? 'node20') : 'node20'])
      .withCommand(['/repo/test/executor/process-driver.mjs', '/repo/dist'])
      .withWaitStrategy(Wait.forLogMessage(/driver listening/))
      .withStartupTimeout(120_000)
      .start();
    driver = new Driver(port);
    info = await driver.send<Info>({ op: 'info' });
  }, 900_000); // a fresh machine builds the dev image first (apt)

  afterAll(async () => {
    await container?.stop({ timeout: 30_000 });
  });

  async function serverAlive(): Promise<void> {
    expect(await driver.send<{ alive: boolean; pid: number }>({ op: 'alive' })).toEqual({ alive: true, pid: info.pid });
  }

    it(`confines with ${mode.layer}`, () => {
      expect(info.uid).toBe(1000);
      expect(info.sandbox.layer).toBe(mode.layer);
      expect(info.sandbox.seccomp).toBe(true);
      expect(info.sandbox.landlockAbi).toBeGreaterThanOrEqual(1);
    });

    it('reports the layer in health and system info, with the runtimes found here', async () => {
      const health = await driver.send<{ kind: string; reachable: boolean; isolation: { mode: string; layers: Record<string, string> } }>({ op: 'health' });
      expect(health).toMatchObject({ kind: 'process', reachable: true, isolation: { mode: `process (${mode.layer})` } });
      if (mode.layer === 'landlock') expect(health.isolation.layers.landlock).toMatch(/^ABI \d+: /);
      else expect(health.isolation.layers.namespaces).toContain('bubblewrap');
      const system = await driver.send<{ executor: { kind: string; sandbox: string }; runtimes: Array<{ runtime: string; languageVersion: string; packages: Record<string, string> }> }>({ op: 'system' });
      expect(system.executor).toMatchObject({ kind: 'process', sandbox: mode.layer });
      const byRuntime = Object.fromEntries(system.runtimes.map((runtime) => [runtime.runtime, runtime]));
      expect(byRuntime.python?.languageVersion).toMatch(/^3\.\d+\.\d+$/);
      expect(byRuntime.python?.packages.numpy).toMatch(/^\d+\./);
      expect(byRuntime.node?.languageVersion).toMatch(/^\d+\.\d+\.\d+$/);
      expect(byRuntime.bash?.languageVersion).toMatch(/^5\./);
    });

    it('keeps Python, JavaScript and bash state across runs, and files in /mnt/data across languages', async () => {
      expect((await driver.run('s1', 'python', 'x = 40\nx + 1')).value).toBe('41');
      const second = await driver.run('s1', 'python', "x += 2\nopen('/mnt/data/from-python.txt', 'w').write(f'x={x}')\nx");
      expect(second.value).toBe('42');
      expect(second.files).toEqual(['from-python.txt']);
      expect((await driver.run('s1', 'javascript', "let y = require('fs').readFileSync('/mnt/data/from-python.txt', 'utf8'); y")).value).toBe("'x=42'");
      expect((await driver.run('s1', 'javascript', 'y + "!"')).value).toBe("'x=42!'");
      const bash = await driver.run('s1', 'bash', 'Z=$(cat from-python.txt); pwd; echo "$HOME"; echo scratch > /tmp/t; cat /tmp/t');
      expect(bash.stdout).toBe('/mnt/data\n/home/sandbox\nscratch\n');
      expect((await driver.run('s1', 'bash', 'echo "$Z"')).stdout).toBe('x=42\n');
    });

    it('keeps /mnt/data in a Python subprocess and shows a plot', async () => {
      const child = await driver.run('s1', 'python', "import subprocess\nprint(subprocess.run(['python3', '-c', 'import os; print(sorted(os.listdir(\"/mnt/data\")))'], capture_output=True, text=True).stdout)");
      expect(child.stdout).toBe("['from-python.txt']\n\n");
      const plot = await driver.run('s1', 'python', 'import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()', { pool: 'python' });
      expect(plot.status).toBe('ok');
      expect(plot.images).toBe(1);
    });

    it('names the working folder /mnt/data in every language, so a path saved in one run opens in the next', async () => {
      const python = await driver.run('paths', 'python', [
        'import os, pathlib, subprocess',
        "open('people.csv', 'w').write('name\\nada\\n')",
        "saved = os.path.abspath('people.csv')",
        "os.makedirs('sub', exist_ok=True)",
        "print(os.getcwd(), os.getcwdb(), saved, pathlib.Path('people.csv').resolve(), pathlib.Path.cwd(), os.path.realpath('/tmp'), os.path.realpath(os.path.expanduser('~')))",
        "print(subprocess.run(['python3', '-c', 'import os; print(os.getcwd())'], cwd='sub', capture_output=True, text=True).stdout.strip())",
      ].join('\n'));
      expect(python.stdout).toBe("/mnt/data b'/mnt/data' /mnt/data/people.csv /mnt/data/people.csv /mnt/data /tmp /home/sandbox\n/mnt/data/sub\n");
      expect((await driver.run('paths', 'python', 'print(open(saved).read(), end="")')).stdout).toBe('name\nada\n');

      const node = await driver.run('paths', 'javascript', [
        "const path = require('path'); const fs = require('fs');",
        "let savedJs = path.resolve('people.csv');",
        "const viaCallback = await new Promise((resolve, reject) => fs.realpath('sub', (error, found) => (error ? reject(error) : resolve(found))));",
        "console.log([process.cwd(), savedJs, fs.realpathSync('people.csv'), fs.realpathSync.native('.'), viaCallback, await fs.promises.realpath('/tmp')].join(' '));",
      ].join('\n'));
      expect(node.stdout).toBe('/mnt/data /mnt/data/people.csv /mnt/data/people.csv /mnt/data /mnt/data/sub /tmp\n');
      expect((await driver.run('paths', 'javascript', "process.stdout.write(require('fs').readFileSync(savedJs, 'utf8'))")).stdout).toBe('name\nada\n');

      const bash = await driver.run('paths', 'bash', 'pwd; cd sub && pwd && echo "$PWD"; savedSh=$(pwd)/../people.csv');
      expect(bash.stdout).toBe('/mnt/data\n/mnt/data/sub\n/mnt/data/sub\n');
      expect((await driver.run('paths', 'bash', 'cat "$savedSh"')).stdout).toBe('name\nada\n');
      for (const answer of [python, node, bash]) expect(answer.stdout + answer.stderr).not.toContain(info.dataDir);
    });

    it("cannot read another session's files, another slot, or the signing key", async () => {
      await driver.send({ op: 'write', session: 'victim', name: 'secret.txt', content: 'victim-secret' });
      const code = [
        'import os',
        `for p in ['${info.dataDir}/sessions/victim/files/secret.txt', '${info.dataDir}/signing.key']:`,
        '    try: print(open(p).read())',
        '    except OSError as e: print(type(e).__name__)',
        `try: print(os.listdir('${info.dataDir}/slots'))`,
        'except OSError as e: print(type(e).__name__)',
      ].join('\n');
      const attack = await driver.run('attacker', 'python', code);
      // Landlock refuses the paths; bubblewrap's mount namespace has none of them.
      const refused = mode.layer === 'landlock' ? 'PermissionError' : 'FileNotFoundError';
      expect(attack.stdout).toBe(`${refused}\n${refused}\n${refused}\n`);
      const viaBash = await driver.run('attacker', 'bash', `cat ${info.dataDir}/sessions/victim/files/secret.txt ${info.dataDir}/signing.key; ls ${info.dataDir}/sessions`);
      expect(viaBash.stdout).toBe('');
      expect(viaBash.stderr).not.toContain('victim-secret');
      expect(viaBash.stderr).toContain(mode.layer === 'landlock' ? 'Permission denied' : 'No such file or directory');
      await serverAlive();
    });

    it("cannot read the server's environment, nor find it in its own", async () => {
      const code = [
        'import os',
        `for p in ['/proc/${info.pid}/environ', '/proc/${info.pid}/mem']:`,
        '    try: print(open(p, "rb").read(64))',
        '    except OSError as e: print(type(e).__name__)',
        'print(any("driver-secret" in v for v in os.environ.values()))',
      ].join('\n');
      const attack = await driver.run('attacker', 'python', code);
      // Under bubblewrap the server is in another pid namespace: its pid names nothing, or a process of the run itself.
      if (mode.layer === 'landlock') expect(attack.stdout).toBe('PermissionError\nPermissionError\nFalse\n');
      else expect(attack.stdout.split('\n').at(-2)).toBe('False');
      expect(attack.stdout + attack.stderr).not.toContain(DRIVER_SECRET);
      await serverAlive();
    });

    it('cannot signal or ptrace the server', async () => {
      const code = [
        'import ctypes, os, signal',
        'for sig in (signal.SIGKILL, signal.SIGTERM, 0):',
        `    try: os.kill(${info.pid}, sig); print('sent')`,
        '    except OSError as e: print(type(e).__name__)',
        'libc = ctypes.CDLL(None, use_errno=True)',
        `print(libc.ptrace(16, ${info.pid}, None, None), ctypes.get_errno())`,
      ].join('\n');
      const attack = await driver.run('attacker', 'python', code);
      if (mode.layer === 'landlock') {
        expect(attack.stdout).toBe('PermissionError\nPermissionError\nPermissionError\n-1 1\n');
        const viaBash = await driver.run('attacker', 'bash', `kill -9 ${info.pid}; echo "exit $?"`);
        expect(viaBash.stdout).toBe('exit 1\n');
      } else {
        // The seccomp filter refuses ptrace in both modes.
        expect(attack.stdout.split('\n').at(-2)).toBe('-1 1');
      }
      await serverAlive();
    });

    it("cannot connect to a listener on the host's loopback", async () => {
      const python = await driver.run('attacker', 'python', [
        'import socket',
        'try:',
        `    s = socket.create_connection(('127.0.0.1', ${info.port}), timeout=3); print(s.recv(100))`,
        'except OSError as e: print(type(e).__name__, e.errno)',
      ].join('\n'));
      expect(python.stdout).toMatch(/^(OSError|PermissionError) (97|1|13)\n$/);
      const node = await driver.run('attacker', 'javascript', [
        `const s = require('net').connect(${info.port}, '127.0.0.1');`,
        'await new Promise((resolve) => { s.on("data", (d) => { console.log(String(d)); resolve(); }); s.on("error", (e) => { console.log(e.code); resolve(); }); });',
      ].join('\n'));
      expect(node.stdout).not.toContain('loopback-secret');
      expect(node.stdout.trim()).toMatch(/^E[A-Z]+$/);
      const bash = await driver.run('attacker', 'bash', `exec 3<>/dev/tcp/127.0.0.1/${info.port} && cat <&3; echo "exit $?"`);
      expect(bash.stdout + bash.stderr).not.toContain('loopback-secret');
      await serverAlive();
    });

    it('survives a fork bomb, a memory bomb and an endless loop that ignores SIGTERM', async () => {
      // The bomb runs in the background of the cell; its whole process group is killed once the cell has answered.
      await driver.run('bomber', 'bash', ':(){ :|:& };:', { timeoutMs: 5000 });
      expect((await driver.run('bomber', 'bash', 'sleep 0.1 & wait; echo "forks again: $(echo yes)"')).stdout).toBe('forks again: yes\n');
      const memoryBomb = await driver.run('bomber', 'python', 'hog = bytearray(4 * 1024 ** 3)');
      expect(memoryBomb.status).toBe('oom');
      expect(memoryBomb.notice).toContain('out of memory');
      const jsBomb = await driver.run('bomber', 'javascript', 'const hog = []; while (true) hog.push(new Array(1e6).fill(1));');
      expect(jsBomb.status).toBe('oom');
      const loop = await driver.run('bomber', 'python', 'import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True: pass', { timeoutMs: 2000 });
      expect(loop.status).toBe('timeout');
      const detached = await driver.run('bomber', 'bash', 'setsid sleep 1000 & echo started', { timeoutMs: 5000 });
      expect(detached.stderr).toContain('Operation not permitted');
      expect((await driver.run('bomber', 'python', 'print(6 * 7)')).stdout).toBe('42\n');
      await serverAlive();
    });

    it('keeps the last good state when a run runs out of memory, as an OOM kill on Docker does', async () => {
      expect((await driver.run('oom-state', 'python', 'x = 1\nx')).value).toBe('1');
      // MemoryError inside Python: the runner still answers and saves its state, which must not be adopted.
      const bomb = await driver.run('oom-state', 'python', 'x = 2\nhog = bytearray(4 * 1024 ** 3)');
      expect(bomb.status).toBe('oom');
      expect(bomb.notice).toContain('keeps its variables from before this run');
      const after = await driver.run('oom-state', 'python', "x, 'hog' in globals()");
      expect(after.value).toBe('(1, False)');
      await serverAlive();
    });

    it('stops a run that fills the disk past the session quota', async () => {
      const fill = await driver.run('filler', 'python', [
        'import itertools',
        'chunk = b"x" * (4 * 1024 * 1024)',
        'for i in itertools.count():',
        "    with open(f'/tmp/fill-{i}', 'wb') as f: f.write(chunk)",
      ].join('\n'));
      expect(fill.status).toBe('killed');
      expect(fill.notice).toContain(`quota of ${QUOTA_MB} MiB`);
      expect((await driver.run('filler', 'python', 'print("after")')).stdout).toBe('after\n');
      await serverAlive();
    });

    it('counts files deleted while the run still holds them open or mapped', async () => {
      // 50 × 4 MiB held after their names are gone: a walk of the folders sees none of it.
      const held = await driver.run(
        'holder',
        'python',
        [
          'import mmap, os, time',
          'kept = []',
          'for i in range(50):',
          "    f = open(f'/mnt/data/held{i}', 'w+b')",
          "    f.write(b'x' * (4 * 1024 * 1024)); f.flush()",
          '    kept.append(mmap.mmap(f.fileno(), 0) if i % 2 else f)',
          "    os.unlink(f'/mnt/data/held{i}')",
          "print('holding', flush=True)",
          'time.sleep(3600)',
        ].join('\n'),
        { timeoutMs: 20_000 },
      );
      expect(held.notice ?? '', `status ${held.status}, stdout ${held.stdout}`).toContain(`quota of ${QUOTA_MB} MiB`);
      expect(held.status).toBe('killed');
      await serverAlive();
    });
});
