/**
 * The nine one-shot languages (C, C++, Go, Java, Rust, PHP, R, D, Fortran) on real images: through
 * the engine every case (args and files, compile error, exit code, timeout), then through MCP's
 * execute_code and LibreChat's /v1/exec, and what a server without a language's image answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ONE_SHOT_LANGUAGES, type OneShotLanguage } from '../../src/domain/types.js';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';
import { callTool, connectStreamable, sessionOf, textOf } from '../interfaces/helpers/mcp-client.js';
import { startTestServer, TEST_KEY, type TestServer } from '../interfaces/helpers/test-server.js';
import { HELLO_ARGS, HELLO_STDOUT, INPUT_LINE, OUT_TXT, PROGRAMS } from './programs.js';

/** No warm Python, Node or bash containers: these tests run none. */
const NO_POOLS = { CODECELL_POOL_PYTHON: '0', CODECELL_POOL_PYTHON_LEAN: '0', CODECELL_POOL_NODE: '0', CODECELL_POOL_BASH: '0' };
/** Long enough for a cold compile on a slow machine; the timeout tests wait for all of it. */
const SPIN_TIMEOUT_MS = 8_000;
/** LibreChat's code for each language (its execute_code tool's `lang`). */
const LIBRECHAT_CODE: Readonly<Record<OneShotLanguage, string>> = {
  c: 'c',
  cpp: 'cpp',
  go: 'go',
  java: 'java',
  rust: 'rs',
  php: 'php',
  r: 'r',
  d: 'd',
  fortran: 'f90',
};

describe('one-shot languages through the engine', () => {
  let t: TestEngine;

  beforeAll(async () => {
    t = await startTestEngine(NO_POOLS);
  });

  afterAll(async () => {
    await t?.close();
  });

  async function sessionWithInput(): Promise<string> {
    const session = await t.engine.createSession(t.principal);
    await t.files.write(t.principal, session.id, 'input.txt', Buffer.from(`${INPUT_LINE}\n`));
    return session.id;
  }

  describe.each(ONE_SHOT_LANGUAGES)('%s', (language) => {
    const programs = PROGRAMS[language];

    it('runs a program with args in /mnt/data: it reads a file there and writes one back', async () => {
      const sessionId = await sessionWithInput();
      const result = await t.engine.execute({ principal: t.principal, sessionId, language, code: programs.hello, args: HELLO_ARGS });
      expect(result.stderr.text).toBe('');
      expect(result.stdout.text).toBe(HELLO_STDOUT);
      expect([result.status, result.exitCode, result.stateSaved]).toEqual(['ok', 0, false]);
      expect(result.files.map((file) => [file.path, file.change, file.size])).toEqual([['out.txt', 'created', OUT_TXT.length]]);
      const written = await t.files.readHead(t.principal, sessionId, 'out.txt', 100);
      expect(written.bytes.toString('utf8')).toBe(OUT_TXT);
      // The source and the build stay out of the session's files.
      const listed = await t.files.list(t.principal, sessionId);
      expect(listed.files.map((file) => file.path).sort()).toEqual(['input.txt', 'out.txt']);
    });

    it("answers code that does not compile with the compiler's message in stderr and status error", async () => {
      const result = await t.engine.execute({ principal: t.principal, language, code: programs.broken });
      expect(result.status).toBe('error');
      expect(result.stderr.text).toContain(programs.brokenSays);
      expect(result.error?.name).toBe(programs.brokenError);
      expect(result.stdout.text).toBe('');
    });

    it("reports a failing program's exit code and its stderr", async () => {
      const result = await t.engine.execute({ principal: t.principal, language, code: programs.fails });
      expect([result.status, result.exitCode]).toEqual(['error', 3]);
      expect(result.stderr.text).toContain('boom');
      expect(result.error?.name).toBe('ExitStatus');
    });

    it('stops a program that runs past the timeout', async () => {
      const result = await t.engine.execute({ principal: t.principal, language, code: programs.spins, timeoutMs: SPIN_TIMEOUT_MS });
      expect(result.status).toBe('timeout');
      expect(result.stdout.text).toBe('started\n');
      expect(result.notice).toContain('timed out after 8 s');
    });
  });

  it('runs the class with main when no class is public, and a public class in a package', async () => {
    const declared = await t.engine.execute({
      principal: t.principal,
      language: 'java',
      code: 'class Helper { static int twice(int n) { return 2 * n; } }\nclass App {\n  public static void main(String[] args) { System.out.println(Helper.twice(21)); }\n}\n',
    });
    expect([declared.status, declared.stdout.text]).toEqual(['ok', '42\n']);
    const packaged = await t.engine.execute({
      principal: t.principal,
      language: 'java',
      code: 'package demo.app;\n\npublic class Tool {\n  public static void main(String[] args) { System.out.println(Tool.class.getName() + " " + args[0]); }\n}\n',
      args: ['x'],
    });
    expect([packaged.status, packaged.stdout.text]).toEqual(['ok', 'demo.app.Tool x\n']);
  });

  it('reports a program killed by a signal by the signal, with no shell noise in stderr', async () => {
    const result = await t.engine.execute({
      principal: t.principal,
      language: 'c',
      code: '#include <signal.h>\nint main(void) { raise(SIGABRT); return 0; }\n',
    });
    expect([result.status, result.exitCode]).toEqual(['error', 134]);
    expect(result.error).toMatchObject({ name: 'Signal', message: 'the program was killed by SIGABRT (exit status 134)' });
    expect(result.stderr.text).toBe('');
  });

  it('lists every one-shot language in system info, installed, with its version', async () => {
    const info = await t.engine.systemInfo();
    expect(info.languages).toEqual(expect.arrayContaining([...ONE_SHOT_LANGUAGES]));
    const versions = Object.fromEntries(info.oneShotLanguages.map((entry) => [entry.language, entry.version]));
    expect(info.oneShotLanguages.every((entry) => entry.installed)).toBe(true);
    expect(versions.c).toMatch(/^12\.\d+/);
    expect(versions.cpp).toBe(versions.c);
    expect(versions.go).toMatch(/^1\.\d+/);
    expect(versions.java).toMatch(/^17\.\d+/);
    expect(versions.rust).toMatch(/^1\.\d+\.\d+$/);
    expect(versions.php).toMatch(/^8\.\d+\.\d+/);
    expect(versions.r).toMatch(/^4\.\d+\.\d+$/);
  });
});

describe("one-shot languages through MCP's execute_code and LibreChat's /v1/exec", () => {
  let server: TestServer;
  let client: Client;

  beforeAll(async () => {
    server = await startTestServer({ env: NO_POOLS });
    client = await connectStreamable(server.url);
  });

  afterAll(async () => {
    await client?.close();
    await server?.close();
  });

  async function exec(body: Record<string, unknown>): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(`${server.url}/v1/exec`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-API-Key': TEST_KEY },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  it.each(ONE_SHOT_LANGUAGES)('execute_code runs %s with args on a file the session has', async (language) => {
    const prepared = await callTool(client, 'execute_code', { language: 'bash', code: `printf '${INPUT_LINE}\\n' > input.txt` });
    const result = await callTool(client, 'execute_code', {
      language,
      code: PROGRAMS[language].hello,
      args: HELLO_ARGS,
      session_id: sessionOf(prepared),
    });
    expect(result.isError, textOf(result)).toBeFalsy();
    const output = result.structuredContent as { stdout: string; status: string; language: string; files: Array<{ path: string }> };
    expect([output.language, output.status, output.stdout]).toEqual([language, 'ok', HELLO_STDOUT]);
    expect(output.files.map((file) => file.path)).toEqual(['out.txt']);
  });

  it('get_system_info lists the nine one-shot languages as installed, with their versions', async () => {
    const result = await callTool(client, 'get_system_info');
    const oneShot = (result.structuredContent as { one_shot_languages: Array<{ language: string; installed: boolean; version: string | null }> })
      .one_shot_languages;
    expect(oneShot.map((entry) => [entry.language, entry.installed])).toEqual(ONE_SHOT_LANGUAGES.map((language) => [language, true]));
    expect(textOf(result)).toMatch(/One-shot \(execute_code; one program per call, only files carry over\): c 12\.\d+\.\d+, cpp 12/);
    expect(textOf(result)).toMatch(/java 17\.\d+/);
  });

  it("execute_code takes LibreChat's codes and shows a compile error as an error result", async () => {
    const result = await callTool(client, 'execute_code', { language: 'rs', code: PROGRAMS.rust.broken });
    const output = result.structuredContent as { status: string; language: string; stderr: string; error: { name: string } };
    expect([output.language, output.status, output.error.name]).toEqual(['rust', 'error', 'CompileError']);
    expect(output.stderr).toContain('undefined_name');
  });

  it.each(ONE_SHOT_LANGUAGES)('/v1/exec runs %s under its LibreChat code, with args and an input file', async (language) => {
    const prepared = await exec({ lang: 'bash', code: `printf '${INPUT_LINE}\\n' > input.txt`, user_id: `user-${language}` });
    expect(prepared.status).toBe(200);
    const run = await exec({
      lang: LIBRECHAT_CODE[language],
      code: PROGRAMS[language].hello,
      args: HELLO_ARGS,
      session_id: prepared.body.session_id,
      user_id: `user-${language}`,
    });
    expect(run.status, JSON.stringify(run.body)).toBe(200);
    expect([run.body.status, run.body.code, run.body.stdout, run.body.stderr]).toEqual(['ok', 0, HELLO_STDOUT, '']);
    expect((run.body.files as Array<{ name: string }>).map((file) => file.name)).toEqual(['out.txt']);
  });

  it('/v1/exec answers a compile error with 200, the compiler message and status error', async () => {
    const run = await exec({ lang: 'c', code: PROGRAMS.c.broken, user_id: 'user-broken' });
    expect(run.status).toBe(200);
    expect([run.body.status, run.body.code]).toEqual(['error', 1]);
    expect(run.body.stderr).toMatch(/main.c:1:25: error: .undefined_name. undeclared/);
    expect(run.body.stderr).toContain('CompileError: the C code did not compile');
  });
});

describe('a server without the images of the one-shot languages', () => {
  /** A prefix no image has: every language is missing. */
  const ABSENT = { ...NO_POOLS, CODECELL_IMAGE_PREFIX: 'codecell-absent-images-test' };

  it('answers a run with a result that names the missing language and how to add it', async () => {
    const t = await startTestEngine(ABSENT);
    try {
      const result = await t.engine.execute({ principal: t.principal, language: 'go', code: PROGRAMS.go.hello });
      expect([result.status, result.exitCode, result.error?.name]).toEqual(['error', null, 'LanguageNotInstalled']);
      expect(result.error?.message).toBe(
        'Go is not installed on this server (its image "go" has not been built), so nothing ran. ' +
          'An administrator can add Go with: npm run images -- go',
      );
    } finally {
      await t.close();
    }
  });

  it('/v1/exec shows that message in stderr of a 200, which LibreChat passes to the model', async () => {
    const server = await startTestServer({ env: ABSENT });
    try {
      const response = await fetch(`${server.url}/v1/exec`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-API-Key': TEST_KEY },
        body: JSON.stringify({ lang: 'f90', code: PROGRAMS.fortran.hello, user_id: 'user-absent' }),
      });
      expect(response.status).toBe(200);
      const body = (await response.json()) as { status: string; stderr: string; stdout: string };
      expect([body.status, body.stdout]).toEqual(['error', '']);
      expect(body.stderr).toContain('LanguageNotInstalled: Fortran is not installed on this server');
      expect(body.stderr).toContain('npm run images -- gcc');
    } finally {
      await server.close();
    }
  });
});
