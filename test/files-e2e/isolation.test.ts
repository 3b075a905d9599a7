/**
 * Path attacks and cross-principal access, end to end. The attacker is code run in the sandbox
 * through the MCP execution tools (links to host files and to another session, hard links) or a
 * client sending hostile names (`..`, absolute paths, NUL bytes); the victims are the real REST
 * routes, signed links and MCP file tools. Each attack must fail, show nothing it should not, and
 * leave nothing on the host outside the session's own files.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_KEY, type TestServer } from '../interfaces/helpers/test-server.js';
import {
  connectActor,
  fetchWithoutKey,
  filePath,
  findByName,
  jsonOf,
  linksOf,
  sessionFilesDir,
  startFilesServer,
  type Actor,
  type RawResponse,
} from './helpers.js';

const OTHER_KEY = 'second-key-fedcba9876543210';

let server: TestServer;
let alice: Actor;
/** Same API key as alice, another X-User-Id. */
let bob: Actor;
/** Another API key altogether. */
let carol: Actor;
let canaryDir: string;
let canaryFile: string;
const canarySecret = `canary-secret-${randomBytes(8).toString('hex')}`;

beforeAll(async () => {
  server = await startFilesServer({
    CODECELL_API_KEYS: `${TEST_KEY},${OTHER_KEY}`,
    // Bash and lean Python only: no warm containers for the rest.
    CODECELL_POOL_PYTHON: '0',
    CODECELL_POOL_NODE: '0',
  });
  alice = await connectActor(server.url, { userId: 'alice' });
  bob = await connectActor(server.url, { userId: 'bob' });
  carol = await connectActor(server.url, { apiKey: OTHER_KEY });
  // A host folder the sandbox cannot see, with a file an attack would love to read or overwrite.
  canaryDir = await mkdtemp(path.join(os.tmpdir(), 'codecell-e2e-canary-'));
  canaryFile = path.join(canaryDir, 'victim.txt');
  await writeFile(canaryFile, canarySecret);
});

afterAll(async () => {
  for (const actor of [alice, bob, carol]) await actor?.close();
  await server?.close();
  if (canaryDir) await rm(canaryDir, { recursive: true, force: true });
});

/** A fresh name part, so each test can look for its own leftovers anywhere on the host. */
function marker(what: string): string {
  return `${what}-${randomBytes(6).toString('hex')}`;
}

/**
 * Entries named with `mark` outside alice's session's own files: in the data dir, /tmp, or /.
 * Listing the session first waits for its last run to put the files back from the container's slot.
 */
async function leftoversOutside(sessionId: string, mark: string): Promise<string[]> {
  expect((await alice.rest.list(sessionId)).status).toBe(200);
  const own = `${await sessionFilesDir(server, sessionId)}${path.sep}`;
  const found = [
    ...(await findByName(server.dataDir, mark)),
    ...(await findByName(os.tmpdir(), mark, 0)),
    ...(await findByName('/', mark, 0)),
  ];
  return found.filter((entry) => !entry.startsWith(own));
}

function expectRefused(response: RawResponse, status: number, code: string, message?: RegExp): void {
  expect(response.status, response.body.toString()).toBe(status);
  const body = jsonOf(response);
  expect(body.error).toBe(code);
  if (message) expect(String(body.message)).toMatch(message);
}

/**
 * /etc/shadow's first line; null where this process cannot read it (the process harness runs as
 * uid 1000): the server has this process's uid, so it could not serve it either, and the canary
 * link below is what shows that nothing is served through a link.
 */
async function hostShadowLine(): Promise<string | null> {
  let text: string;
  try {
    text = await readFile('/etc/shadow', 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EACCES' && process.getuid?.() !== 0) return null;
    throw error;
  }
  const firstLine = text.split('\n')[0] ?? '';
  expect(firstLine.length).toBeGreaterThan(0);
  return firstLine;
}

describe('links made by code in the sandbox', () => {
  it('lists a symlink to /etc/shadow as a link and never serves what it points to', async () => {
    const session = await alice.newSession();
    const shadow = await hostShadowLine();
    const run = await alice.run(
      'execute_bash_command',
      `ln -s /etc/shadow shadow.txt && ln -s /etc etc-dir && ln -s ${canaryFile} chart.png && echo made`,
      session,
    );
    expect(run.output.stdout, run.text).toBe('made\n');
    expect(run.output.files).toEqual([
      expect.objectContaining({ path: 'chart.png', kind: 'symlink', download_url: null }),
      expect.objectContaining({ path: 'etc-dir', kind: 'symlink', download_url: null }),
      expect.objectContaining({ path: 'shadow.txt', kind: 'symlink', download_url: null }),
    ]);
    expect(run.output.images).toEqual([]); // a link named .png is not shown either
    expect(run.text).not.toContain(canarySecret);

    /** Everything the routes answered, to check that none of it shows a target's content. */
    const seen: string[] = [];
    for (const target of ['shadow.txt', 'chart.png']) {
      const head = await alice.rest.download(session, target, 'HEAD');
      expect(head.status).toBe(400);
      const get = await alice.rest.download(session, target);
      expectRefused(get, 400, 'INVALID_INPUT', /is a symbolic link; links made in the sandbox are listed but never read or served/);
      const read = await alice.tool('read_file', { path: target, session_id: session });
      expect(read.text).toMatch(/^INVALID_INPUT: .*symbolic link/);
      seen.push(get.body.toString(), read.text);
    }
    for (const through of ['etc-dir/shadow', 'etc-dir/hostname']) {
      const get = await alice.rest.download(session, filePath(through));
      expectRefused(get, 400, 'INVALID_INPUT', /'etc-dir' \(on the way to .*\) is a symbolic link/);
      const read = await alice.tool('read_file', { path: through, session_id: session });
      expect(read.isError).toBe(true);
      seen.push(get.body.toString(), read.text);
    }
    const listed = await alice.tool('list_files', { session_id: session });
    expect(listed.text).toContain('- shadow.txt (symbolic link: never read or served)');
    seen.push(listed.text);
    for (const text of seen) {
      if (shadow !== null) expect(text).not.toContain(shadow);
      expect(text).not.toContain(canarySecret);
    }
  });

  it('does not let a signed link follow its file once code swaps the file for a symlink', async () => {
    const session = await alice.newSession();
    const first = await alice.run('execute_bash_command', 'echo harmless > report.txt', session);
    const link = String(linksOf(first.output).get('report.txt'));
    expect((await fetchWithoutKey(link)).body.toString()).toBe('harmless\n');
    const swap = await alice.run('execute_bash_command', `rm report.txt && ln -s ${canaryFile} report.txt`, session);
    expect(swap.output.status, swap.text).toBe('ok');
    const answer = await fetchWithoutKey(link);
    expect(answer.status).toBe(400);
    expect(answer.body.toString()).not.toContain(canarySecret);
  });

  it('never writes or deletes through a link, whatever route is used', async () => {
    const session = await alice.newSession();
    const run = await alice.run('execute_bash_command', `ln -s ${canaryDir} canary-dir && ln -s ${canaryFile} victim-link.txt`, session);
    expect(run.output.status, run.text).toBe('ok');

    expectRefused(
      await alice.rest.upload(session, [{ name: 'file', filename: 'canary-dir/planted.txt', content: 'planted' }]),
      400,
      'INVALID_INPUT',
      /'canary-dir' .* is a symbolic link/,
    );
    const viaMcp = await alice.tool('upload_file', { filename: 'canary-dir/planted.txt', content: 'planted', session_id: session });
    expect(viaMcp.isError).toBe(true);
    expectRefused(await alice.rest.remove(session, filePath('canary-dir/victim.txt')), 400, 'INVALID_INPUT');

    // Replacing a link replaces the link, never its target; deleting one deletes the link only.
    const replaced = await alice.rest.upload(session, [{ name: 'file', filename: 'victim-link.txt', content: 'new content' }]);
    expect(replaced.status).toBe(201);
    expect((await alice.rest.download(session, 'victim-link.txt')).body.toString()).toBe('new content');
    expect((await alice.rest.remove(session, 'canary-dir')).status).toBe(204);

    expect(await readFile(canaryFile, 'utf8')).toBe(canarySecret);
    expect(await readdir(canaryDir)).toEqual(['victim.txt']);
    expect(await alice.rest.paths(session)).toEqual(['victim-link.txt']);
  });

  it('refuses a symlink to another session’s folder on every route, and that session is untouched', async () => {
    const bobSession = await bob.newSession();
    const bobSecret = `bob-private-${randomBytes(8).toString('hex')}`;
    expect((await bob.rest.upload(bobSession, [{ name: 'file', filename: 'private.txt', content: bobSecret }])).status).toBe(201);

    const session = await alice.newSession();
    const bobDir = await sessionFilesDir(server, bobSession);
    // Absolute, and relative from where alice's files live between runs.
    const relative = path.relative(await sessionFilesDir(server, session), bobDir);
    const run = await alice.run(
      'execute_bash_command',
      `ln -s ${bobDir} bob-abs && ln -s ${relative} bob-rel && cat bob-abs/private.txt bob-rel/private.txt 2>&1; true`,
      session,
    );
    expect(run.output.status, run.text).toBe('ok');
    expect(run.output.stdout).toContain('No such file or directory'); // the host path means nothing in the sandbox

    for (const link of ['bob-abs', 'bob-rel']) {
      expectRefused(await alice.rest.download(session, `${link}/private.txt`), 400, 'INVALID_INPUT', /is a symbolic link/);
      expectRefused(await alice.rest.download(session, link), 400, 'INVALID_INPUT');
      expectRefused(await alice.rest.remove(session, `${link}/private.txt`), 400, 'INVALID_INPUT');
      expectRefused(
        await alice.rest.upload(session, [{ name: 'file', filename: `${link}/planted.txt`, content: 'x' }]),
        400,
        'INVALID_INPUT',
      );
      const read = await alice.tool('read_file', { path: `${link}/private.txt`, session_id: session });
      expect(read.isError).toBe(true);
      expect(read.text).not.toContain(bobSecret);
    }
    const listing = await alice.rest.list(session);
    expect(JSON.parse(listing.body.toString())).toEqual([
      expect.objectContaining({ path: 'bob-abs', kind: 'symlink' }),
      expect.objectContaining({ path: 'bob-rel', kind: 'symlink' }),
    ]);
    expect(run.text + listing.body.toString()).not.toContain(bobSecret);

    expect(await bob.rest.paths(bobSession)).toEqual(['private.txt']);
    expect((await bob.rest.download(bobSession, 'private.txt')).body.toString()).toBe(bobSecret);
  });

  it('cannot hard-link a host file, and a hard link made in /mnt/data is listed but not served', async () => {
    const session = await alice.newSession();
    const run = await alice.run(
      'execute_bash_command',
      'ln /etc/passwd pw 2>/dev/null; echo "host:$?"; echo twin-content > orig.txt; ln orig.txt twin.txt; echo "inside:$?"',
      session,
    );
    expect(run.output.stdout, run.text).toBe('host:1\ninside:0\n');
    expect(run.output.files).toEqual([
      expect.objectContaining({ path: 'orig.txt', kind: 'hardlink', download_url: null }),
      expect.objectContaining({ path: 'twin.txt', kind: 'hardlink', download_url: null }),
    ]);
    for (const name of ['orig.txt', 'twin.txt']) {
      expectRefused(await alice.rest.download(session, name), 400, 'INVALID_INPUT', /is a hard link \(the file has 2 names\)/);
      const read = await alice.tool('read_file', { path: name, session_id: session });
      expect(read.isError).toBe(true);
      expect(read.text).not.toContain('twin-content');
    }
    expect((await alice.tool('list_files', { session_id: session })).text).toContain('twin.txt (13 bytes, hard link: never read or served)');

    // One name gone, the file is an ordinary file again.
    expect((await alice.rest.remove(session, 'twin.txt')).status).toBe(204);
    const download = await alice.rest.download(session, 'orig.txt');
    expect(download.status).toBe(200);
    expect(download.body.toString()).toBe('twin-content\n');
  });
});

describe('hostile names', () => {
  it('refuses ../ in names on every route, in the sandbox too, and leaves nothing on the host', async () => {
    const session = await alice.newSession();
    const mark = marker('escape');
    for (const name of [`../../${mark}.txt`, `../${mark}.txt`, `sub/../../${mark}.txt`]) {
      expectRefused(
        await alice.rest.upload(session, [{ name: 'file', filename: name, content: 'x' }]),
        400,
        'INVALID_INPUT',
        /contains '\.\.'; it must stay inside \/mnt\/data/,
      );
      expectRefused(
        await alice.rest.upload(session, [{ name: 'path', content: name }, { name: 'file', filename: 'ok.txt', content: 'x' }]),
        400,
        'INVALID_INPUT',
      );
      const viaMcp = await alice.tool('upload_file', { filename: name, content: 'x', session_id: session });
      expect(viaMcp.text).toMatch(/^INVALID_INPUT: .*'\.\.'/);
    }
    for (const raw of ['..%2F..%2F..%2Fetc%2Fpasswd', '../../../etc/passwd', '%2e%2e/%2e%2e/meta.json', 'sub/..%2F..%2Fmeta.json']) {
      const download = await alice.rest.download(session, raw);
      expect(download.status, raw).toBe(400);
      expect(download.body.toString()).not.toContain('root:');
      expect((await alice.rest.remove(session, raw)).status, raw).toBe(400);
    }
    const read = await alice.tool('read_file', { path: '../../../etc/passwd', session_id: session });
    expect(read.text).toMatch(/^INVALID_INPUT: /);

    const inside = await alice.run(
      'execute_python_code',
      `for p in ["../../${mark}.txt", "../${mark}.txt"]:\n    try:\n        open(p, "w").write("x")\n        print("wrote", p)\n    except OSError:\n        print("refused")`,
      session,
    );
    expect(inside.output.stdout, inside.text).toBe('refused\nrefused\n');
    expect(await alice.rest.paths(session)).toEqual([]);
    expect(await leftoversOutside(session, mark)).toEqual([]);
  });

  it('refuses absolute paths, keeps what code writes outside /mnt/data in the container, and leaves nothing on the host', async () => {
    const session = await alice.newSession();
    const mark = marker('abs');
    for (const name of [`/tmp/${mark}.txt`, `/etc/cron.d/${mark}`]) {
      expectRefused(
        await alice.rest.upload(session, [{ name: 'file', filename: name, content: 'x' }]),
        400,
        'INVALID_INPUT',
        /the path is absolute/,
      );
      expect((await alice.tool('upload_file', { filename: name, content: 'x', session_id: session })).text).toMatch(/^INVALID_INPUT: .*absolute/);
    }
    expect((await alice.tool('read_file', { path: '/etc/passwd', session_id: session })).text).toMatch(/^INVALID_INPUT: .*absolute/);
    // GET …/files//etc/passwd
    expectRefused(await alice.rest.download(session, '/etc/passwd'), 400, 'INVALID_INPUT', /the path is absolute/);
    expectRefused(await alice.rest.download(session, '%2Fetc%2Fpasswd'), 400, 'INVALID_INPUT', /the path is absolute/);

    // The sandbox's own absolute paths: /tmp is the container's, / is read-only.
    const run = await alice.run(
      'execute_bash_command',
      `echo x > /tmp/${mark}.txt && echo "tmp:ok"; (echo x > /${mark}.txt) 2>/dev/null || echo "root:refused"`,
      session,
    );
    expect(run.output.stdout, run.text).toBe('tmp:ok\nroot:refused\n');
    expect(run.output.files).toEqual([]);

    // /mnt/data/<name> is the sandbox's name for the session's own file: accepted, stored inside.
    const same = await alice.tool('upload_file', { filename: `/mnt/data/${mark}.txt`, content: 'inside', session_id: session });
    expect(same.isError, same.text).toBe(false);
    expect(await alice.rest.paths(session)).toEqual([`${mark}.txt`]);
    expect(await leftoversOutside(session, mark)).toEqual([]);
  });

  it('refuses NUL bytes on every route, and skips names no route could address', async () => {
    const session = await alice.newSession();
    const mark = marker('nul');
    const viaMcp = await alice.tool('upload_file', { filename: `a\u0000${mark}.txt`, content: 'x', session_id: session });
    expect(viaMcp.text).toMatch(/^INVALID_INPUT: .*NUL byte/);
    expect((await alice.tool('read_file', { path: `a\u0000${mark}.txt`, session_id: session })).text).toMatch(/NUL byte/);
    expectRefused(await alice.rest.download(session, `a%00${mark}.txt`), 400, 'INVALID_INPUT', /NUL byte/);
    expectRefused(await alice.rest.remove(session, `a%00${mark}.txt`), 400, 'INVALID_INPUT', /NUL byte/);
    expectRefused(
      await alice.rest.upload(session, [{ name: 'path', content: `a\u0000${mark}.txt` }, { name: 'file', filename: 'x.txt', content: 'x' }]),
      400,
      'INVALID_INPUT',
    );

    const run = await alice.run(
      'execute_python_code',
      `try:\n    open("a\\x00${mark}.txt", "w")\nexcept ValueError as e:\n    print("refused:", e)\n` +
        `open("ctl\\x01${mark}", "w").write("x")\nopen("del\\x7f${mark}", "w").write("x")\nopen("fine.txt", "w").write("x")`,
      session,
    );
    expect(run.output.stdout, run.text).toBe('refused: embedded null byte\n');
    // Names with control characters exist in /mnt/data but no route could name them: not listed,
    // no links; the listing says how many it left out.
    expect(run.output.files.map((file) => file.path)).toEqual(['fine.txt']);
    expect(await alice.rest.paths(session)).toEqual(['fine.txt']);
    expect((await alice.tool('list_files', { session_id: session })).text).toContain('2 entries are not listed');
    expect(await leftoversOutside(session, mark)).toEqual([]);
  });
});

describe('names that are not UTF-8', () => {
  it('cost the session none of its files: everything comes back after the run', async () => {
    const session = await alice.newSession();
    for (const name of ['a.csv', 'm.csv', 'z.csv']) {
      expect((await alice.rest.upload(session, [{ name: 'file', filename: name, content: `${name} content` }])).status).toBe(201);
    }
    const mark = marker('latin1');
    const run = await alice.run('execute_python_code', `open(b"caf\\xe9-${mark}", "w").write("x")\nopen("after.txt", "w").write("x")`, session);
    expect(run.output.status, run.text).toBe('ok');
    expect(run.output.files.map((file) => file.path)).toEqual(['after.txt']);

    expect(await alice.rest.paths(session)).toEqual(['a.csv', 'after.txt', 'm.csv', 'z.csv']);
    expect((await alice.rest.download(session, 'z.csv')).body.toString()).toBe('z.csv content');
    const next = await alice.run('execute_bash_command', 'ls | wc -l', session);
    expect(next.output.stdout.trim()).toBe('5'); // the four, and the one only code can name
    expect(await leftoversOutside(session, mark)).toEqual([]);
  });
});

describe('another principal', () => {
  let aliceSession: string;
  let aliceLink: string;
  const aliceSecret = `alice-private-${randomBytes(8).toString('hex')}`;

  beforeAll(async () => {
    aliceSession = await alice.newSession();
    const run = await alice.run('execute_bash_command', `echo ${aliceSecret} > secret.txt; head -c 2000 /dev/urandom > blob.bin`, aliceSession);
    aliceLink = String(linksOf(run.output).get('secret.txt'));
    expect(aliceLink).toContain('/files/signed/');
  });

  /** What `who` gets for a route on alice's session, next to the same route on a session nobody has. */
  async function onBoth(call: (session: string) => Promise<RawResponse>): Promise<[RawResponse, RawResponse]> {
    return [await call(aliceSession), await call(randomUUID())];
  }

  it.each([
    ['another user behind the same key', () => bob],
    ['another API key', () => carol],
  ])('%s gets "not found" from every REST route, exactly as for a session that does not exist', async (_who, actorOf) => {
    const who = actorOf();
    const routes: Array<(session: string) => Promise<RawResponse>> = [
      (session) => who.rest.list(session),
      (session) => who.rest.download(session, 'secret.txt'),
      (session) => who.rest.download(session, 'secret.txt', 'HEAD'),
      (session) => who.rest.remove(session, 'secret.txt'),
      (session) => who.rest.upload(session, [{ name: 'file', filename: 'planted.txt', content: 'planted' }]),
    ];
    for (const route of routes) {
      const [theirs, nobodys] = await onBoth(route);
      expect(theirs.status).toBe(404);
      expect(nobodys.status).toBe(404);
      if (theirs.body.length > 0) {
        expect(jsonOf(theirs).error).toBe('SESSION_NOT_FOUND');
        const anonymized = (response: RawResponse) => String(jsonOf(response).message).replace(/[0-9a-f-]{36}/g, '<id>');
        expect(anonymized(theirs)).toBe(anonymized(nobodys));
        expect(theirs.body.toString()).not.toContain(aliceSecret);
      }
    }
    // Their own default session is theirs alone.
    expect(await who.rest.paths('default')).not.toContain('secret.txt');
  });

  it('cannot list, read, write or run code in the session over MCP, so cannot obtain a link', async () => {
    for (const who of [bob, carol]) {
      const calls: Array<[string, Record<string, unknown>]> = [
        ['list_files', {}],
        ['read_file', { path: 'secret.txt' }],
        ['read_file', { path: 'blob.bin' }], // a binary would come back as a signed link
        ['upload_file', { filename: 'planted.txt', content: 'planted' }],
        ['execute_python_code', { code: 'print(open("secret.txt").read())' }],
        ['execute_javascript_code', { code: 'console.log(require("fs").readFileSync("secret.txt", "utf8"))' }],
        ['execute_bash_command', { command: 'cat secret.txt' }],
      ];
      for (const [tool, args] of calls) {
        const answer = await who.tool(tool, { ...args, session_id: aliceSession });
        expect(answer.isError, tool).toBe(true);
        expect(answer.text, tool).toMatch(/^SESSION_NOT_FOUND: /);
        expect(answer.text).not.toContain(aliceSecret);
        expect(answer.text).not.toContain('/files/signed/');
      }
    }
  });

  it('leaves alice’s files as they were, and her own link works for anyone who has it', async () => {
    expect(await alice.rest.paths(aliceSession)).toEqual(['blob.bin', 'secret.txt']);
    const viaLink = await fetchWithoutKey(aliceLink);
    expect(viaLink.status).toBe(200);
    expect(viaLink.body.toString()).toBe(`${aliceSecret}\n`);
  });
});
