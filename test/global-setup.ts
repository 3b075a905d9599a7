/**
 * Runs once around the Docker tier (vitest project `docker`, and the gVisor pass); the `unit` project
 * has none. `npm test` has already set up the engine and images (scripts/prepare.sh); here we check
 * the engine answers and, at the end, that the suite left no Codecell container behind: every
 * execution container must be removed after its run. Containers started meanwhile by another
 * suite on the same engine count too: run one suite per engine.
 */
import { execFileSync } from 'node:child_process';

function codecellContainers(): string[] {
  const out = execFileSync('docker', ['ps', '-a', '--filter', 'label=codecell', '--format', '{{.ID}} {{.Status}} {{.Labels}}'], {
    encoding: 'utf8',
  });
  return out.split('\n').filter((line) => line.trim().length > 0);
}

const idOf = (line: string): string => line.split(' ')[0] ?? '';
let before = new Set<string>();

export function setup(): void {
  execFileSync('docker', ['info'], { stdio: 'ignore' });
  // The tier runs some tests under gVisor too: say once, clearly, when the engine cannot.
  const runtimes = execFileSync('docker', ['info', '--format', '{{json .Runtimes}}'], { encoding: 'utf8' });
  if (!runtimes.includes('"runsc"')) {
    throw new Error('the Docker engine has no runsc (gVisor) runtime; run `bash scripts/ensure-docker.sh` as root to register it');
  }
  // Containers that were there before the suite (another server on this engine) are not ours to judge.
  before = new Set(codecellContainers().map(idOf));
}

export function teardown(): void {
  const left = codecellContainers().filter((line) => !before.has(idOf(line)));
  if (left.length > 0) {
    // Vitest 4 reports an error thrown here but still exits 0: fail the run through the exit code.
    console.error(`the suite left ${left.length} Codecell container(s) behind:\n${left.join('\n')}`);
    // Their mounts name the data dir, whose prefix names the helper or test that made it.
    const ids = left.map(idOf);
    try {
      const mounts = execFileSync('docker', ['inspect', '--format', '{{.ID}} {{.Created}} {{range .Mounts}}{{.Source}} {{end}}', ...ids], {
        encoding: 'utf8',
      });
      console.error(`their creation times and mounts:\n${mounts}`);
    } catch (error) {
      console.error(`could not inspect them: ${error instanceof Error ? error.message : String(error)}`);
    }
    process.exitCode = 1;
  }
}
