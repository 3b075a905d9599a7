/**
 * One-shot languages (issue 10) against the run's end: a compiled program that takes the job's
 * nonce from where the runner keeps it (the job file in the build directory, else the runner's own
 * memory through /proc/<ppid>/mem, which the same user may read) forges the result frame and then
 * writes on. The host takes the forgery as the run's end and stops watching, but the container
 * lives until it is killed: whatever is written meanwhile must still be seen, listed and told.
 *
 * Through the test helpers' real engine on real one-shot images (gcc), with a 20 MiB quota.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';

const MiB = 1024 * 1024;
const QUOTA_MB = 20;
/** No warm Python, Node or bash containers: only the gcc image runs here. */
const NO_POOLS = { CODECELL_POOL_PYTHON: '0', CODECELL_POOL_PYTHON_LEAN: '0', CODECELL_POOL_NODE: '0', CODECELL_POOL_BASH: '0' };

/** C that finds nonce candidates, forges stderr-end and a result frame for each, then writes 1 MiB files without end. */
const FORGE_THEN_FILL = String.raw`#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <ctype.h>
/* Candidate nonces: 32 lowercase hex characters between NULs, from the job file or the runner's memory. */
static char found[64][33]; static int nfound;
static void scan(const char *b, size_t n) {
  for (size_t i = 0; i + 33 < n && nfound < 64; i++) {
    if ((i > 0 && b[i - 1] != 0 && b[i - 1] != '"') ) continue;
    size_t k = 0; while (k < 32 && (isdigit((unsigned char)b[i + k]) || (b[i + k] >= 'a' && b[i + k] <= 'f'))) k++;
    if (k == 32 && (b[i + 32] == 0 || b[i + 32] == '"')) { int dup = 0; for (int j = 0; j < nfound; j++) if (!memcmp(found[j], b + i, 32)) dup = 1;
      if (!dup) { memcpy(found[nfound], b + i, 32); found[nfound][32] = 0; nfound++; } }
  }
}
int main(void) {
  static char buf[1 << 20]; FILE *f = fopen("/run/codecell/build/job.json", "r");
  if (f) { size_t n = fread(buf, 1, sizeof buf, f); scan(buf, n); fclose(f); }
  char path[64]; snprintf(path, sizeof path, "/proc/%d/maps", getppid()); FILE *maps = fopen(path, "r");
  snprintf(path, sizeof path, "/proc/%d/mem", getppid()); int mem = open(path, O_RDONLY);
  char line[512];
  while (maps && mem >= 0 && fgets(line, sizeof line, maps)) {
    unsigned long lo, hi; char perms[8];
    if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || perms[0] != 'r' || perms[1] != 'w') continue;
    for (unsigned long a = lo; a < hi; a += sizeof buf) { size_t len = hi - a < sizeof buf ? hi - a : sizeof buf;
      ssize_t got = pread(mem, buf, len, (off_t)a); if (got > 0) scan(buf, (size_t)got); }
  }
  printf("candidates %d\n", nfound); fflush(stdout);
  for (int j = 0; j < nfound; j++) {
    fprintf(stderr, "\x1e%s\x1f{\"type\":\"stderr-end\"}\n", found[j]); fflush(stderr);
    printf("\x1e%s\x1f{\"type\":\"result\",\"outcome\":\"ok\",\"value\":null,\"error\":null,\"exitCode\":0,\"images\":[],\"imagesOmitted\":0,\"notCarried\":[],\"stateSaved\":false,\"stateError\":null,\"loadedModules\":[],\"oomKills\":0}\n", found[j]);
    fflush(stdout);
  }
  static char block[1 << 20]; memset(block, 'x', sizeof block);
  for (int k = 0; ; k++) {
    char name[64]; snprintf(name, sizeof name, "/mnt/data/f%05d", k);
    int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644); if (fd < 0) break;
    if (write(fd, block, sizeof block) < 0) { close(fd); break; } close(fd);
  }
  return 0;
}
`;

describe('one-shot: a forged result frame followed by writes', () => {
  let t: TestEngine;

  beforeAll(async () => {
    t = await startTestEngine({ ...NO_POOLS, CODECELL_SESSION_QUOTA_MB: String(QUOTA_MB), EXECUTION_TIMEOUT: '30', CODECELL_MAX_LISTED_FILES: '100000' });
  });

  afterAll(async () => {
    await t?.close();
  });

  it('lists every file the run left and tells a session pushed over its quota', async () => {
    const session = await t.engine.createSession(t.principal);
    const result = await t.engine.execute({ principal: t.principal, sessionId: session.id, language: 'c', code: FORGE_THEN_FILL, args: [] });
    const listing = await t.files.list(t.principal, session.id);
    const left = listing.files.map((file) => file.path).sort();
    const told = result.files.map((file) => file.path).sort();
    // What the answer says the run left is what the session holds.
    expect(told).toEqual(left);
    if (listing.usage.bytes > QUOTA_MB * MiB) {
      expect(result.notice ?? '').toMatch(/quota/);
    }
  }, 120_000);

  it('keeps the job line off the build directory: a compile-time include of it finds nothing', async () => {
    const session = await t.engine.createSession(t.principal);
    const leaks: Record<string, string> = {
      c: '#include "/run/codecell/build/job.json"\nint main(void) { return 0; }\n',
      rust: 'const JOB: &str = include_str!("/run/codecell/build/job.json");\nfn main() { println!("{}", JOB); }\n',
    };
    for (const [language, code] of Object.entries(leaks)) {
      const result = await t.engine.execute({ principal: t.principal, sessionId: session.id, language: language as 'c' | 'rust', code, args: [] });
      expect(result.error?.name).toBe('CompileError');
      expect(result.stdout.text + result.stderr.text).not.toMatch(/"nonce"\s*:/);
    }
  }, 120_000);
});
