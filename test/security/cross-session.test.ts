/**
 * Cross-session attacks: session A (user "attacker") goes after session B (user "victim"): its
 * state, its files, its snapshot, and the host that carries snapshots between containers. The host
 * must only ever move snapshot bytes; unpickling and evaluating them happens in containers alone.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callTool, connectStreamable, headersFor, textOf } from '../interfaces/helpers/mcp-client.js';
import { Harness, LIMITS, random } from './helpers/harness.js';

let h: Harness;
let victim: Client;
let victimSession: string;
const victimToken = random('victim-token');

beforeAll(async () => {
  h = await Harness.start({ pools: { pythonLean: 1, node: 1, bash: 1 } });
  victim = await connectStreamable(h.server.url, { userId: 'victim' });
  victimSession = await h.newSession(victim);
  const planted = await h.exec(
    'python',
    `token = ${JSON.stringify(victimToken)}\nopen('victim.txt', 'w').write(token)\nprint('ok')`,
    { session: victimSession, client: victim },
  );
  expect(planted.status, planted.stderr).toBe('ok');
});

afterAll(async () => {
  await victim?.close();
  await h?.close();
});

/** The victim's variable and file are exactly as planted. */
async function victimIntact(): Promise<void> {
  const check = await h.exec('python', "print(token, open('victim.txt').read(), sorted(__import__('os').listdir('.')))", {
    session: victimSession,
    client: victim,
  });
  expect(check.status, JSON.stringify(check)).toBe('ok');
  expect(check.stdout).toBe(`${victimToken} ${victimToken} ['victim.txt']\n`);
}

describe('through the API', () => {
  it('cannot run in, list, read, reset or close another user’s session, even knowing its id', async () => {
    const attempts = [
      ['execute_python_code', { code: 'print(token)', session_id: victimSession }],
      ['execute_bash_command', { command: 'cat victim.txt', session_id: victimSession }],
      ['list_files', { session_id: victimSession }],
      ['read_file', { path: 'victim.txt', session_id: victimSession }],
      ['get_execution_history', { session_id: victimSession }],
      ['reset_execution_session', { session_id: victimSession }],
      ['close_execution_session', { session_id: victimSession }],
    ] as const;
    for (const [tool, args] of attempts) {
      const result = await callTool(h.client, tool, { ...args });
      expect(result.isError, tool).toBe(true);
      expect(textOf(result), tool).toMatch(/SESSION_NOT_FOUND/);
      expect(textOf(result), tool).not.toContain(victimToken);
    }
    const rest = await fetch(`${h.server.url}/v1/sessions/${victimSession}/files/victim.txt`, { headers: headersFor({ userId: 'attacker' }) });
    expect(rest.status).toBe(404);
    expect(await rest.text()).not.toContain(victimToken);
    await victimIntact();
    await h.stillServing();
  });

  it('cannot address another session’s state or files with path tricks in file names', async () => {
    const own = await h.newSession();
    const names = [
      `../${victimSession}/files/victim.txt`,
      `../../sessions/${victimSession}/state/python`,
      `/mnt/data/../../../${victimSession}/files/evil.txt`,
      'a/../../b',
    ];
    for (const filename of names) {
      const upload = await callTool(h.client, 'upload_file', { filename, content: 'poison', session_id: own });
      expect(upload.isError, filename).toBe(true);
      const read = await callTool(h.client, 'read_file', { path: filename, session_id: own });
      expect(read.isError, filename).toBe(true);
      expect(textOf(read)).not.toContain(victimToken);
    }
    await victimIntact();
    await h.stillServing();
  });
});

describe('from inside the sandbox', () => {
  it('sees neither the processes nor the files of a session that runs at the same time', async () => {
    // The victim writes its marker, says so, and runs on until the test ends it: the attacker looks
    // only once the victim is known to be running, and the victim is still running when it is done.
    const victimRun = h.start(
      'python',
      `import time
marker = 'running-' + token
open('/tmp/' + marker, 'w').write(marker)
print('victim running', flush=True)
while True:
    time.sleep(0.1)`,
      { session: victimSession, client: victim, timeout: h.budget(5 * LIMITS.timeoutSeconds) },
    );
    await victimRun.printed('victim running');
    const seen = await h.probe(
      'python',
      `import json, os
cmdlines = []
for pid in filter(str.isdigit, os.listdir('/proc')):
    try:
        cmdlines.append(open(f'/proc/{pid}/cmdline', 'rb').read().decode('latin1'))
    except OSError:
        pass
found = []
for root, dirs, files in os.walk('/', topdown=True):
    dirs[:] = [d for d in dirs if os.path.join(root, d) not in ('/proc', '/sys', '/dev')]
    found += [os.path.join(root, f) for f in files if 'running-' in f or f == 'victim.txt']
print(json.dumps({'processes': len(cmdlines), 'found': found}))`,
    );
    const victimRanThroughout = !victimRun.ended;
    await victimRun.cancel();
    expect(victimRanThroughout, 'the victim was still running when the attacker looked').toBe(true);
    expect(seen.found).toEqual([]);
    expect(seen.processes).toBeLessThan(10);
    await victimIntact();
    await h.stillServing();
  });

  it('finds nothing of an earlier session’s run in a new container (/tmp, /dev/shm, /mnt/data)', async () => {
    const leftover = random('leftover');
    const first = await h.exec(
      'bash',
      `echo ${leftover} > /tmp/left; echo ${leftover} > /dev/shm/left; echo ${leftover} > /run/codecell/artifacts/left; echo ${leftover} > /run/codecell/out/left; cat /tmp/left /dev/shm/left`,
    );
    expect(first.stdout).toBe(`${leftover}\n${leftover}\n`);
    const other = await h.newSession();
    // The token goes in as two halves: the runner keeps the code of this very run in /tmp.
    const later = await h.exec(
      'bash',
      `A='${leftover.slice(0, 10)}'; B='${leftover.slice(10)}'; grep -rs "$A$B" /tmp /dev/shm /run/codecell /mnt/data; echo "grep=$?"`,
      { session: other },
    );
    expect(later.stdout).toBe('grep=1\n');
    await h.stillServing();
  });

  it('cannot overwrite its own incoming snapshot, nor hard-link it out of its read-only mount', async () => {
    const session = await h.newSession();
    await h.exec('python', 'x = 1', { session });
    const seen = await h.probe(
      'python',
      `import json, os
result = {'in': sorted(os.listdir('/run/codecell/in'))}
for name, action in (
    ('write', lambda: open('/run/codecell/in/state', 'ab').write(b'poison')),
    ('replace', lambda: os.rename('/run/codecell/out', '/run/codecell/in/state')),
    ('remove', lambda: os.unlink('/run/codecell/in/state')),
    ('hardlink', lambda: os.link('/run/codecell/in/state', '/mnt/data/stolen-state')),
    ('remount', lambda: os.rmdir('/run/codecell/in')),
):
    try:
        action(); result[name] = 'done'
    except OSError as e:
        result[name] = e.strerror
print(json.dumps(result))`,
      { session },
    );
    expect(seen.in).toEqual(['state']);
    for (const action of ['write', 'replace', 'remove', 'hardlink', 'remount']) expect(seen[action], action).not.toBe('done');
    await h.stillServing();
  });
});

describe('poisoned snapshots', () => {
  it('a Python snapshot with a pickle payload runs only inside the session’s next container, never on the host', async () => {
    const session = await h.newSession();
    const hostMarker = path.join('/tmp', random('codecell-poison-py'));
    rmSync(hostMarker, { force: true });
    const poisoned = await h.exec(
      'python',
      `import os
class Payload:
    def __reduce__(self):
        return (os.system, (${JSON.stringify(`touch ${hostMarker}; echo ran > /mnt/data/poison-ran.txt`)},))
poison = Payload()
print('armed')`,
      { session },
    );
    expect(poisoned.status, poisoned.stderr).toBe('ok');
    expect(poisoned.state_saved).toBe(true);
    // The payload really is in the snapshot the host keeps for this session.
    const snapshot = readFileSync(path.join(h.server.dataDir, 'sessions', session, 'state', 'python'));
    expect(snapshot.includes(Buffer.from(hostMarker))).toBe(true);

    // The next run restores it, in a fresh container: the payload runs there.
    const restored = await h.exec('python', `import os\nprint(os.path.exists(${JSON.stringify(hostMarker)}), open('poison-ran.txt').read().strip())`, { session });
    expect(restored.stdout).toBe('True ran\n');
    // The host moved the bytes around and never ran them.
    expect(existsSync(hostMarker), 'the pickle payload ran on the host').toBe(false);

    // Nor does the victim's session get anything of it.
    const victimView = await h.exec('python', `import os\nprint(os.path.exists(${JSON.stringify(hostMarker)}), os.path.exists('poison-ran.txt'))`, {
      session: victimSession,
      client: victim,
    });
    expect(victimView.stdout).toBe('False False\n');
    await victimIntact();
    await h.stillServing();
  });

  it('a JavaScript snapshot with code in a class body runs only inside the next container, never on the host', async () => {
    const session = await h.newSession();
    const hostMarker = path.join('/tmp', random('codecell-poison-js'));
    rmSync(hostMarker, { force: true });
    const poisoned = await h.exec(
      'javascript',
      `class Payload {
  static {
    require('fs').writeFileSync(${JSON.stringify(hostMarker)}, 'ran');
    require('fs').appendFileSync('/mnt/data/poison-ran.txt', 'ran\\n');
  }
}
console.log('armed');`,
      { session },
    );
    expect(poisoned.status, poisoned.stderr + (poisoned.error?.message ?? '')).toBe('ok');
    const restored = await h.exec(
      'javascript',
      `console.log(require('fs').existsSync(${JSON.stringify(hostMarker)}), require('fs').readFileSync('/mnt/data/poison-ran.txt', 'utf8').trim().split('\\n').length)`,
      { session },
    );
    // Ran once when defined and once more when the next container restored the class.
    expect(restored.stdout).toBe('true 2\n');
    expect(existsSync(hostMarker), 'the snapshot code ran on the host').toBe(false);
    await h.stillServing();
  });

  it('a snapshot the runner could not save (a directory in its place) is not adopted, and the old one stays', async () => {
    const session = await h.newSession();
    await h.exec('python', 'kept = "before"', { session });
    const sabotage = await h.exec(
      'python',
      `import os
kept = "sabotaged"
os.mkdir('/run/codecell/out/state')
os.symlink('/etc/shadow', '/run/codecell/out/state.tmp')`,
      { session },
    );
    expect(sabotage.state_saved).toBe(false);
    const after = await h.exec('python', 'print(kept)', { session });
    expect(after.stdout).toBe('before\n');
    await h.stillServing();
  });
});

describe('links made in the sandbox', () => {
  it('are never followed by the host: symlinks to host files and to another session are listed, not served', async () => {
    const session = await h.newSession();
    const victimFiles = `../../../sessions/${victimSession}/files/victim.txt`;
    const made = await h.exec(
      'bash',
      `ln -s /etc/shadow shadow-link
ln -s ${victimFiles} victim-link
ln -s ${h.server.dataDir}/principals principals-link
mkdir -p dir && ln -s ${h.server.dataDir}/sessions/${victimSession}/files dir/victim-dir
readlink shadow-link victim-link principals-link dir/victim-dir`,
      { session },
    );
    expect(made.status, made.stderr).toBe('ok');
    for (const file of made.files.filter((entry) => entry.path !== 'dir')) {
      expect(file.kind, file.path).toBe('symlink');
      expect(file.download_url, file.path).toBeNull();
    }
    for (const target of ['shadow-link', 'victim-link', 'principals-link', 'dir/victim-dir/victim.txt']) {
      const read = await callTool(h.client, 'read_file', { path: target, session_id: session });
      expect(read.isError, target).toBe(true);
      expect(textOf(read)).not.toContain(victimToken);
      expect(textOf(read)).not.toMatch(/root:[^:\n]*:\d+:/);
      const rest = await fetch(`${h.server.url}/v1/sessions/${session}/files/${target}`, { headers: headersFor({ userId: 'attacker' }) });
      expect(rest.status, target).not.toBe(200);
      expect(await rest.text()).not.toContain(victimToken);
    }
    await victimIntact();
    await h.stillServing();
  });
});
