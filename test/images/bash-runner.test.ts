/**
 * The bash image's runner (images/bash) against images/PROTOCOL.md, driven directly with the
 * docker CLI: one throwaway container per run, mounted the way the host mounts it, the job line on
 * stdin and frames on stdout, checked against the host's own frame schemas. Session state is
 * carried between containers the way the host does it: the `state` file of one run's out/
 * directory becomes the next run's in/state.
 */
import { describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { useImageHarness } from './run-image.js';

const { Session } = useImageHarness('bash');

describe('bash runner', () => {
  it('sends a ready frame, then runs the job with its output going straight through', async () => {
    const run = await new Session().run('echo to stdout\necho to stderr >&2\nprintf "%s|" "$PWD" "$HOME" "$LANG"');
    expect(run.ready).toEqual({ type: 'ready', runtime: 'bash', version: expect.stringMatching(/^5\./) });
    expect(run.output).toBe('to stdout\n/mnt/data|/tmp|C.UTF-8|');
    expect(run.stderr).toContain('to stderr\n');
    expect(run.result).toMatchObject({ outcome: 'ok', value: null, error: null, exitCode: 0, stateSaved: true, images: [], loadedModules: [] });
  });

  it('gives the cell the job\'s args as "$@", and none to a job line without args', async () => {
    const session = new Session();
    const withArgs = await session.run('printf "%s|" "$#" "$@"\nfirst=$1', undefined, ['a b', 'c\nd', '', "it's"]);
    expect(withArgs.output).toBe("4|a b|c\nd||it's|");
    expect(withArgs.result).toMatchObject({ outcome: 'ok', stateSaved: true });
    const without = await session.run('printf "%s|" "$#" "$first"');
    expect(without.output).toBe('0|a b|');
  });

  it('reports the status of the last command', async () => {
    const run = await new Session().run('true\nls /does/not/exist');
    expect(run.result).toMatchObject({
      outcome: 'error',
      exitCode: 2,
      error: { name: 'ExitStatus', message: 'exit status 2', traceback: '' },
    });
    expect(run.stderr).toContain('/does/not/exist');
  });

  it('has the usual tools', async () => {
    const tools = 'bash grep sed gawk jq bc curl git file ps find less tar gzip xargs sort diff xxd';
    const run = await new Session().run(`for t in ${tools}; do command -v "$t" >/dev/null || echo "missing $t"; done; echo '{"a":[1,2]}' | jq -c .a; echo '2^10' | bc`);
    expect(run.output).toBe('[1,2]\n1024\n');
  });

  it('carries variables, arrays, exported variables, functions, aliases and the directory', async () => {
    const session = new Session();
    const first = await session.run(`
      greeting='hello world'
      multiline=$'line one\\nline "two"'
      declare -i count=41
      list=(alpha "beta gamma" $'delta\\nepsilon')
      declare -A colors=([sky]=blue ["grass blade"]=green)
      export SHARED_SETTING=on
      shout() { echo "\${1^^}!"; }
      alias ll='echo listing'
      mkdir -p work/inner && cd work/inner
    `);
    expect(first.result).toMatchObject({ outcome: 'ok', stateSaved: true, notCarried: [] });

    const second = await session.run(`
      count+=1
      echo "$greeting|$multiline|$count"
      echo "\${#list[@]}|\${list[1]}|\${list[2]}"
      echo "\${colors[sky]}|\${colors[grass blade]}"
      bash -c 'echo "child sees $SHARED_SETTING"'
      shout hey
      ll
      pwd
    `);
    expect(second.result.error).toBeNull();
    expect(second.output).toBe(
      [
        'hello world|line one\nline "two"|42',
        '3|beta gamma|delta\nepsilon',
        'blue|green',
        'child sees on',
        'HEY!',
        'listing',
        '/mnt/data/work/inner',
        '',
      ].join('\n'),
    );
  });

  it('saves neither read-only nor special variables', async () => {
    const session = new Session();
    await session.run('readonly FIXED=1\nRANDOM=7\nmine=1\nSECONDS=5');
    const state = readFileSync(session.statePath, 'utf8');
    expect(state).toContain('mine=');
    expect(state).not.toMatch(/\b(FIXED|RANDOM|SECONDS|BASH_VERSION|PPID|__cc_\w+)=/);
  });

  it('reports `exit 3` as exit code 3 and still saves the state', async () => {
    const session = new Session();
    const run = await session.run('before=kept\necho leaving\nexit 3\necho not reached');
    expect(run.output).toBe('leaving\n');
    expect(run.result).toMatchObject({ outcome: 'error', exitCode: 3, stateSaved: true, error: { name: 'ExitStatus', message: 'exit status 3' } });
    expect((await session.run('echo "$before"')).output).toBe('kept\n');
  });

  it('still sends the frame when the cell sets its own EXIT trap and fails under set -e', async () => {
    const session = new Session();
    const run = await session.run("trap 'echo cleanup ran' EXIT\nset -eu\nstate=set\nfalse\necho not reached");
    expect(run.output).toBe('cleanup ran\n');
    expect(run.result).toMatchObject({ outcome: 'error', exitCode: 1, stateSaved: true });
    expect((await session.run('echo "$state"')).output).toBe('set\n');
  });

  it('goes back to /mnt/data when the saved directory is gone', async () => {
    const session = new Session();
    const gone = path.join(session.dataDir, 'gone');
    mkdirSync(gone);
    chmodSync(gone, 0o777);
    await session.run('cd gone');
    rmSync(gone, { recursive: true });
    const run = await session.run('pwd');
    expect(run.output).toBe('/mnt/data\n');
    expect(run.result.notCarried).toEqual([{ name: 'cwd', type: 'directory', reason: expect.stringContaining('restore failed') }]);
  });

  it('writes names with quotes, backslashes, control characters and non-ASCII into the result as JSON says them', async () => {
    const session = new Session();
    const name = 'gone "q" \\ \t\x01 é\n2';
    const gone = path.join(session.dataDir, name);
    mkdirSync(gone);
    chmodSync(gone, 0o777);
    await session.run(`cd "$(printf 'gone "q" \\\\ \\t\\001 é\\n2')"`);
    rmSync(gone, { recursive: true });
    const run = await session.run('pwd');
    expect(run.output).toBe('/mnt/data\n');
    // A note is one line: its newlines become spaces.
    const shown = name.replace('\n', ' ');
    expect(run.result.notCarried).toEqual([{ name: 'cwd', type: 'directory', reason: `restore failed: /mnt/data/${shown} no longer exists; starting in /mnt/data` }]);
  });

  it('lists background jobs as not carried', async () => {
    const run = await new Session().run('sleep 30 &\necho started');
    expect(run.result.outcome).toBe('ok');
    expect(run.result.notCarried).toEqual([
      { name: 'background jobs', type: 'job', reason: 'background processes do not survive the run' },
    ]);
  });

  it('gives user code an empty stdin, not the host pipe', async () => {
    const run = await new Session().run('wc -c');
    expect(run.output.trim()).toBe('0');
  });
});
