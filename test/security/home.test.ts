/**
 * Attacks on the session's persistent $HOME (/home/sandbox, sessions/<id>/home on the host): what
 * sandbox code leaves there (links to host paths, fifos, sockets, hard links, names that are not
 * UTF-8, a tree deeper than PATH_MAX) is moved, measured and removed by the host, never followed;
 * the home itself cannot be swapped for a link; startup hooks planted in it (Python's user site,
 * ~/.node_modules, ~/.bashrc) never run in a later call's runner; another session and the file API
 * cannot reach it; and filling it with entries is stopped like filling /mnt/data.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callTool, headersFor, textOf } from '../interfaces/helpers/mcp-client.js';
import { startTestEngine } from '../helpers/engine.js';
import { Harness, LIMITS, random } from './helpers/harness.js';

let h: Harness;
let hostDir: string;

beforeAll(async () => {
  h = await Harness.start({ pools: { pythonLean: 1, bash: 1 } });
  hostDir = mkdtempSync(path.join(os.tmpdir(), 'codecell-home-attack-'));
});

afterAll(async () => {
  await h?.close();
  if (hostDir) rmSync(hostDir, { recursive: true, force: true });
});

/** Python that prints every entry of $HOME as {hex of its name: kind[:link target][:links]}, as JSON. */
const REPORT_HOME = `
import json, os, stat
home = os.fsencode(os.path.expanduser("~"))
seen = {}
for name in os.listdir(home):
    st = os.lstat(os.path.join(home, name))
    mode = st.st_mode
    kind = "l" if stat.S_ISLNK(mode) else "p" if stat.S_ISFIFO(mode) else "s" if stat.S_ISSOCK(mode) else "d" if stat.S_ISDIR(mode) else "f"
    if kind == "l":
        kind += ":" + os.readlink(os.path.join(home, name)).decode("utf-8", "replace")
    if kind == "f":
        kind += f":{st.st_nlink}"
    seen[name.hex()] = kind
print(json.dumps(seen, sort_keys=True))
`;

const hex = (name: string | Buffer): string => Buffer.from(name).toString('hex');

describe('what code leaves in $HOME', () => {
  it('links to host paths, fifos, sockets, hard links, odd names and a deep tree: kept as made, never followed by the host', async () => {
    const victim = await h.newSession();
    const victimToken = random('victim-home');
    const planted = await h.exec('bash', `echo ${victimToken} > ~/note && echo ok`, { session: victim });
    expect(planted.stdout).toBe('ok\n');
    await h.settled(victim);
    const victimNote = path.join(h.server.dataDir, 'sessions', victim, 'home', 'note');
    expect(readFileSync(victimNote, 'utf8')).toBe(`${victimToken}\n`);
    // Host paths the links name: a file and a folder outside the data dir, and the victim's home.
    const sentinelDir = path.join(hostDir, 'folder');
    mkdirSync(sentinelDir);
    writeFileSync(path.join(sentinelDir, 'inside'), 'host folder');
    const sentinel = path.join(hostDir, 'sentinel');
    writeFileSync(sentinel, 'host file');

    const session = await h.newSession();
    const made = await h.exec(
      'bash',
      [
        'cd ~',
        `ln -s ${victimNote} victim-note; ln -s ${path.dirname(victimNote)} victim-home; ln -s ${sentinel} host-file`,
        `ln -s ${sentinelDir} host-dir; ln -s / root; ln -s .. up; mkdir sub; ln -s ${sentinelDir} sub/host-dir`,
        'mkfifo fifo; echo x > a; ln a a-hard',
        "touch $'new\\nline' $'\\xff\\xfe'",
        'echo made',
      ].join('\n'),
      { session },
    );
    expect(made.stdout, made.stderr).toBe('made\n');
    const deep = await h.finish(
      'python',
      [
        'import os, socket',
        'socket.socket(socket.AF_UNIX).bind(os.path.expanduser("~/sock"))',
        'os.chdir(os.path.expanduser("~"))',
        'for _ in range(30):',
        '    os.mkdir("d" * 200)',
        '    os.chdir("d" * 200)',
        'open("leaf", "w").write("deep")',
        'print(len(os.getcwd()) > 4096)',
        'print("deep-done")',
      ].join('\n'),
      'deep-done',
      { session },
    );
    expect(deep.stdout).toBe('True\ndeep-done\n');
    const before = await h.probe<Record<string, string>>('python', REPORT_HOME, { session });
    // What both runtimes can make (a socket or fifo may live only inside gVisor): all of it is there.
    expect(before).toMatchObject({
      [hex('victim-note')]: `l:${victimNote}`,
      [hex('host-file')]: `l:${sentinel}`,
      [hex('host-dir')]: `l:${sentinelDir}`,
      [hex('root')]: 'l:/',
      [hex('up')]: 'l:..',
      [hex('a')]: 'f:2',
      [hex('a-hard')]: 'f:2',
      [hex('new\nline')]: 'f:1',
      [hex(Buffer.from([0xff, 0xfe]))]: 'f:1',
      [hex('sub')]: 'd',
    });

    // Moved out and back in by a later run: every entry exactly as it was, the deep leaf readable.
    const after = await h.probe<Record<string, string>>('python', REPORT_HOME, { session });
    expect(after).toEqual(before);
    const leaf = await h.exec('python', 'import os\nos.chdir(os.path.expanduser("~"))\nfor _ in range(30):\n    os.chdir("d" * 200)\nprint(open("leaf").read())', { session });
    expect(leaf.stdout, leaf.stderr).toBe('deep\n');
    // Inside, the links lead nowhere: the host paths do not exist in the container.
    const follow = await h.exec('bash', 'cat ~/victim-note ~/host-file ~/host-dir/inside 2>/dev/null; echo "[$?]"', { session });
    expect(follow.stdout).toBe('[1]\n');

    // The host measures it (listing), and closing the session removes the links, not their targets.
    const listing = await callTool(h.client, 'list_files', { session_id: session });
    expect(listing.isError ?? false, textOf(listing)).toBe(false);
    expect(textOf(listing)).not.toContain(victimToken);
    const closed = await callTool(h.client, 'close_execution_session', { session_id: session });
    expect(closed.isError ?? false, textOf(closed)).toBe(false);
    expect(existsSync(path.join(h.server.dataDir, 'sessions', session))).toBe(false);
    expect(readFileSync(sentinel, 'utf8')).toBe('host file');
    expect(readFileSync(path.join(sentinelDir, 'inside'), 'utf8')).toBe('host folder');
    expect(readFileSync(victimNote, 'utf8')).toBe(`${victimToken}\n`);
    const victimSees = await h.exec('bash', 'cat ~/note', { session: victim });
    expect(victimSees.stdout).toBe(`${victimToken}\n`);
    await h.stillServing();
  });

  it('$HOME itself cannot be removed, renamed or replaced by a link, nor hard-linked across to /mnt/data', async () => {
    const session = await h.newSession();
    const attempts = await h.probe<Record<string, string>>(
      'python',
      `
import errno, json, os
home = os.path.expanduser("~")
result = {}
def attempt(name, action):
    try:
        action()
        result[name] = "done"
    except OSError as error:
        result[name] = errno.errorcode.get(error.errno, str(error.errno))
attempt("rmdir", lambda: os.rmdir(home))
attempt("rename", lambda: os.rename(home, "/home/elsewhere"))
os.symlink("/", "/tmp/root-link")
attempt("replace-by-link", lambda: os.replace("/tmp/root-link", home))
open(os.path.join(home, "keep"), "w").write("kept")
open("/mnt/data/data-file", "w").write("data")
attempt("link-data-into-home", lambda: os.link("/mnt/data/data-file", os.path.join(home, "data-hard")))
attempt("link-home-into-data", lambda: os.link(os.path.join(home, "keep"), "/mnt/data/home-hard"))
result["home"] = "dir" if os.path.isdir(home) and not os.path.islink(home) else "changed"
print(json.dumps(result))
`,
      { session },
    );
    for (const name of ['rmdir', 'rename', 'replace-by-link', 'link-data-into-home', 'link-home-into-data']) {
      expect(attempts[name], `${name}: ${JSON.stringify(attempts)}`).not.toBe('done');
    }
    expect(attempts.home).toBe('dir');
    const later = await h.exec('python', 'import os\nprint(sorted(os.listdir(os.path.expanduser("~"))), sorted(os.listdir("/mnt/data")))', { session });
    expect(later.stdout, later.stderr).toBe("['keep'] ['data-file']\n");
    await h.stillServing();
  });
});

describe('startup hooks planted in $HOME', () => {
  it('never run in the runner of a later call: Python user site, ~/.node_modules, ~/.bashrc and friends', async () => {
    const session = await h.newSession();
    const site = '~/.local/lib/python3.11/site-packages';
    const plant = await h.exec(
      'bash',
      [
        `mkdir -p ${site} ~/.node_modules/acorn ~/.node_libraries/acorn ~/.config/matplotlib`,
        `printf 'import builtins, sys\\nbuiltins.HOOKED = True\\nsys.stdout.write("HOOK\\\\n")\\n' > ${site}/usercustomize.py`,
        `cp ${site}/usercustomize.py ${site}/sitecustomize.py`,
        `echo 'import builtins; builtins.HOOKED = True; print("HOOK")' > ${site}/zz-hook.pth`,
        `echo 'globalThis.HOOKED = true; console.log("HOOK"); module.exports = {};' | tee ~/.node_modules/acorn/index.js ~/.node_libraries/acorn/index.js >/dev/null`,
        "echo 'HOOKED=1; echo HOOK' | tee ~/.bashrc ~/.bash_profile ~/.bash_login ~/.profile ~/.bash_logout >/dev/null",
        "echo 'backend: pdf' > ~/.config/matplotlib/matplotlibrc",
        'echo planted',
      ].join('\n'),
      { session },
    );
    expect(plant.stdout, plant.stderr).toBe('planted\n');

    const python = await h.exec(
      'python',
      'import builtins, sys\nimport matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()\nprint(6 * 7, hasattr(builtins, "HOOKED"), any("/home/" in p for p in sys.path))',
      { session },
    );
    expect(python.status, python.stderr).toBe('ok');
    expect(python.stdout).toBe('42 False False\n');
    expect(python.images).toHaveLength(1);
    const node = await h.exec('javascript', 'console.log(6 * 7, typeof HOOKED);', { session });
    expect(node.status, node.stderr).toBe('ok');
    expect(node.stdout).toBe('42 undefined\n');
    const bash = await h.exec('bash', 'echo $((6 * 7)) ${HOOKED-unset}', { session });
    expect(bash.status, bash.stderr).toBe('ok');
    expect(bash.stdout).toBe('42 unset\n');
    for (const out of [python, node, bash]) expect(out.stderr).not.toContain('HOOK');
    await h.stillServing();
  });
});

describe('reaching a session’s $HOME from outside it', () => {
  it('another session sees an empty home, and no file route names the home', async () => {
    const owner = await h.newSession();
    const token = random('home-secret');
    const planted = await h.exec('bash', `git config --global user.email ${token} && echo ${token} > ~/.secret && echo ok`, { session: owner });
    expect(planted.stdout, planted.stderr).toBe('ok\n');

    const other = await h.newSession();
    const look = await h.exec('python', 'import os\nprint(os.listdir(os.path.expanduser("~")), os.path.exists("/home/sandbox/.secret"))', { session: other });
    expect(look.stdout, look.stderr).toBe('[] False\n');

    for (const filePath of ['../home/.secret', '../home/.gitconfig', '/mnt/data/../home/.secret', '/home/sandbox/.secret']) {
      const read = await callTool(h.client, 'read_file', { path: filePath, session_id: owner });
      expect(read.isError, filePath).toBe(true);
      expect(textOf(read), filePath).not.toContain(token);
      const upload = await callTool(h.client, 'upload_file', { filename: filePath, content: 'poison', session_id: owner });
      expect(upload.isError, filePath).toBe(true);
    }
    for (const route of ['..%2Fhome%2F.secret', '%2E%2E/home/.secret', '../home/.secret']) {
      const rest = await fetch(`${h.server.url}/v1/sessions/${owner}/files/${route}`, { headers: headersFor({ userId: 'attacker' }) });
      expect(rest.status, route).toBeGreaterThanOrEqual(400);
      expect(await rest.text(), route).not.toContain(token);
    }
    const listing = await callTool(h.client, 'list_files', { session_id: owner });
    expect(textOf(listing)).not.toContain('.secret');
    const still = await h.exec('bash', 'cat ~/.secret', { session: owner });
    expect(still.stdout).toBe(`${token}\n`);
    await h.stillServing();
  });
});

describe('filling $HOME', () => {
  it('with empty files is stopped at the entry limit, and uploads are then refused', async () => {
    const session = await h.newSession();
    const wanted = LIMITS.maxFiles * 5;
    const fill = await h.exec('bash', `mkdir ~/many && cd ~/many && for i in $(seq ${wanted}); do : > f$i; done; echo filled`, {
      session,
      timeout: h.budget(60),
    });
    expect(fill.status, `${fill.status}: ${fill.notice} ${fill.stdout}`).toBe('killed');
    expect(fill.stdout).not.toContain('filled');
    const count = await h.exec('python', 'import os\nprint(len(os.listdir(os.path.expanduser("~/many"))))', { session });
    const kept = Number(count.stdout.trim());
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(wanted);
    // The watchdog stopped it at the entry limit: the home's entries leave no room for one more file.
    const upload = await callTool(h.client, 'upload_file', { filename: 'one-more.txt', content: 'x', session_id: session });
    expect(upload.isError, textOf(upload)).toBe(true);
    await h.stillServing();
  });
});

describe('recovery after a crash', () => {
  it('puts links and fifos left in a slot\'s home back as they are, and skips a home that is itself a link', async () => {
    const noPools = { CODECELL_POOL_PYTHON: '0', CODECELL_POOL_PYTHON_LEAN: '0', CODECELL_POOL_NODE: '0', CODECELL_POOL_BASH: '0' };
    const first = await startTestEngine(noPools);
    const session = (await first.engine.createSession(first.principal)).id;
    await first.close({ keepData: true });
    const outside = mkdtempSync(path.join(os.tmpdir(), 'codecell-home-recovery-'));
    try {
      writeFileSync(path.join(outside, 'inside'), 'host folder');
      // What a crash mid-run leaves: one slot whose home holds a link to a host folder and a fifo,
      // and one (as only a host-side mishap could leave it) whose home is a link to that folder.
      const slots = path.join(first.dataDir, 'slots');
      const withEntries = path.join(slots, 'a'.repeat(24));
      mkdirSync(path.join(withEntries, 'data'), { recursive: true });
      mkdirSync(path.join(withEntries, 'home'), { recursive: true });
      writeFileSync(path.join(withEntries, 'owner'), session);
      symlinkSync(outside, path.join(withEntries, 'home', 'host-dir'));
      execFileSync('mkfifo', [path.join(withEntries, 'home', 'fifo')]);
      const homeIsLink = path.join(slots, 'b'.repeat(24));
      mkdirSync(path.join(homeIsLink, 'data'), { recursive: true });
      symlinkSync(outside, path.join(homeIsLink, 'home'));
      writeFileSync(path.join(homeIsLink, 'owner'), session);

      const second = await startTestEngine(noPools, first.dataDir);
      try {
        const home = path.join(first.dataDir, 'sessions', session, 'home');
        expect(readdirSync(home).sort()).toEqual(['fifo', 'host-dir']);
        expect(lstatSync(path.join(home, 'host-dir')).isSymbolicLink()).toBe(true);
        expect(readlinkSync(path.join(home, 'host-dir'))).toBe(outside);
        expect(lstatSync(path.join(home, 'fifo')).isFIFO()).toBe(true);
        expect(readdirSync(slots)).toEqual([]);
        // Measured (not opened, not followed) by the listing; closing the session leaves the host folder.
        const listing = await second.files.list(second.principal, session);
        expect(listing.files).toEqual([]);
        expect(listing.usage.entries).toBe(2);
        await second.engine.closeSession(second.principal, session);
        expect(readdirSync(outside)).toEqual(['inside']);
        expect(readFileSync(path.join(outside, 'inside'), 'utf8')).toBe('host folder');
      } finally {
        await second.close();
      }
    } finally {
      rmSync(outside, { recursive: true, force: true });
      rmSync(first.dataDir, { recursive: true, force: true });
    }
  });
});
