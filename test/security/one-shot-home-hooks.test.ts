/**
 * One-shot languages (issue 10) against the session's persistent $HOME: as for Python, Node and
 * bash (home.test.ts), configuration planted there by one run must not change how a later run's
 * code is compiled or started. Go reads ~/.config/go/env (GOFLAGS: -ldflags, even -toolexec, which
 * wraps every compiler step in a program of the planter's choosing); R reads ~/.Renviron and the
 * packages in its user library (~/R/…); R also reads .Rprofile and .Renviron in /mnt/data.
 *
 * Through the test helpers' real engine on the real php, go and r images.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';

/** No warm Python, Node or bash containers: only one-shot images run here. */
const NO_POOLS = { CODECELL_POOL_PYTHON: '0', CODECELL_POOL_PYTHON_LEAN: '0', CODECELL_POOL_NODE: '0', CODECELL_POOL_BASH: '0' };

/** PHP that plants Go's and R's configuration in $HOME and in /mnt/data, then says so. */
const PLANT = String.raw`<?php
$home = getenv('HOME');
@mkdir("$home/.config/go", 0755, true);
file_put_contents("$home/.config/go/env", "GOFLAGS=-ldflags=-X=main.v=planted\n");
file_put_contents("$home/.Renviron", "PLANTED_HOME=yes\nR_PROFILE_USER=$home/hook.R\n");
file_put_contents("$home/hook.R", "Sys.setenv(PLANTED_HOOK = 'yes')\n");
file_put_contents('/mnt/data/.Renviron', "PLANTED_DATA=yes\n");
file_put_contents('/mnt/data/.Rprofile', "Sys.setenv(PLANTED_PROFILE = 'yes')\n");
echo "planted\n";
`;

describe('one-shot: startup hooks planted in $HOME or /mnt/data', () => {
  let t: TestEngine;

  beforeAll(async () => {
    t = await startTestEngine(NO_POOLS);
  });

  afterAll(async () => {
    await t?.close();
  });

  it('changes neither a later Go build nor a later R start', async () => {
    const session = await t.engine.createSession(t.principal);
    const run = (language: 'php' | 'go' | 'r', code: string) =>
      t.engine.execute({ principal: t.principal, sessionId: session.id, language, code, args: [] });
    const planted = await run('php', PLANT);
    expect(planted.stdout.text).toBe('planted\n');

    const go = await run('go', 'package main\n\nimport "fmt"\n\nvar v = "clean"\n\nfunc main() { fmt.Println("v =", v) }\n');
    expect(go.stdout.text).toBe('v = clean\n');

    const r = await run('r', String.raw`cat(sprintf("%s=%s\n", c("PLANTED_HOME", "PLANTED_HOOK", "PLANTED_DATA", "PLANTED_PROFILE"), Sys.getenv(c("PLANTED_HOME", "PLANTED_HOOK", "PLANTED_DATA", "PLANTED_PROFILE"))), sep = "")`);
    expect(r.stdout.text).toBe('PLANTED_HOME=\nPLANTED_HOOK=\nPLANTED_DATA=\nPLANTED_PROFILE=\n');
  }, 120_000);
});
