/**
 * The process executor's rows of `npm run bench` on a Docker host: its runners and runtimes live in
 * the Space image, so the bench runs again inside a container of that image, started as a Space runs
 * (uid 1000, cap-drop ALL, no-new-privileges, Docker's default seccomp), with this repository mounted
 * read-only at /repo, and hands its rows back as JSON on its last line of stdout.
 */
import { spawn } from 'node:child_process';
import type { BenchRow } from './bench-table.js';
import { repositoryRoot } from './space/export.js';
import { buildSpaceImage, SPACE_RUN_FLAGS, SPACE_SERVER_NODE } from './space/space-image.js';

/** Set inside the container: print the rows as JSON instead of the table. */
export const JSON_OUTPUT_ENV = 'BENCH_OUTPUT';
/** The knobs the inner bench takes over from this one (the executor list and /mcp are the outer's). */
const PASSED_KNOBS = ['BENCH_SAMPLES', 'BENCH_SECONDS', 'BENCH_LANGUAGES', 'BENCH_NUMPY_SESSIONS', 'BENCH_CONCURRENCY', 'BENCH_POOL'];

export interface SpaceBench {
  rows: BenchRow[];
  howRun: string;
}

/** BENCH_SPACE_IMAGE names an image to use as it is; otherwise the Space image is built (or refreshed through the cache) from this tree. */
export async function benchInSpace(executor: string): Promise<SpaceBench> {
  const image = process.env.BENCH_SPACE_IMAGE || (await buildSpaceImage());
  const env = [`BENCH_EXECUTORS=${executor}`, `${JSON_OUTPUT_ENV}=json`];
  for (const knob of PASSED_KNOBS) if (process.env[knob] !== undefined) env.push(`${knob}=${process.env[knob]}`);
  const args = ['run', '--rm', ...SPACE_RUN_FLAGS, '-v', `${repositoryRoot()}:/repo:ro`, '-w', '/repo',
    ...env.flatMap((pair) => ['-e', pair]), image, SPACE_SERVER_NODE, 'dist/scripts/bench.js'];
  const stdout = await new Promise<string>((resolve, reject) => {
    const child = spawn('docker', args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`the bench inside ${image} exited with ${code}:\n${out.slice(-4000)}`))));
  });
  const last = stdout.trim().split('\n').at(-1) ?? '';
  const rows = JSON.parse(last) as BenchRow[];
  return {
    rows,
    howRun:
      `inside a container of ${image} (the Space image), uid 1000, --cap-drop ALL, no-new-privileges, Docker's default seccomp, ` +
      `host network; the engine in that container's Node (${SPACE_SERVER_NODE}), runners under /opt/codecell; ` +
      `same knobs; /proc/stat (so CPU and background) is the whole machine's`,
  };
}
