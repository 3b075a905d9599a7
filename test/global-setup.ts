/**
 * Runs once around the whole suite. `npm test` has already set up the engine and images
 * (scripts/prepare.sh); here we check the engine answers and, at the end, that the suite left no
 * Codecell container behind: every execution container must be removed after its run.
 */
import { execFileSync } from 'node:child_process';

function codecellContainers(): string[] {
  const out = execFileSync('docker', ['ps', '-a', '--filter', 'label=codecell', '--format', '{{.ID}} {{.Status}} {{.Labels}}'], {
    encoding: 'utf8',
  });
  return out.split('\n').filter((line) => line.trim().length > 0);
}

export function setup(): void {
  execFileSync('docker', ['info'], { stdio: 'ignore' });
  const before = codecellContainers();
  if (before.length > 0) {
    // Leftovers of an earlier, interrupted run: not this suite's doing, but they would hide leaks.
    execFileSync('docker', ['rm', '-f', ...before.map((line) => line.split(' ')[0] ?? '')], { stdio: 'ignore' });
  }
}

export function teardown(): void {
  const left = codecellContainers();
  if (left.length > 0) {
    throw new Error(`the suite left ${left.length} Codecell container(s) behind:\n${left.join('\n')}`);
  }
}
