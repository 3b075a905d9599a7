/** Helpers for tests that run the `codecell` CLI as a child process. */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { z } from 'zod';

/** Resolves with the URL from the server's "codecell listening" log line (JSON on stderr). */
export function listeningUrl(child: ChildProcess): Promise<string> {
  const LogLineSchema = z.object({ msg: z.string(), url: z.string().optional() });
  return new Promise((resolve, reject) => {
    if (!child.stderr) throw new Error('no stderr');
    const lines = createInterface({ input: child.stderr });
    lines.on('line', (line) => {
      const parsed = LogLineSchema.safeParse(JSON.parse(line));
      if (parsed.success && parsed.data.msg === 'codecell listening' && parsed.data.url) resolve(parsed.data.url);
    });
    child.once('exit', (code) => reject(new Error(`server exited early with ${code}`)));
  });
}
