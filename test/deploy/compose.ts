/** docker-compose (Debian's 1.29, scripts/ensure-compose.sh) driven on the repository's own compose files. */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const ROOT = path.resolve(import.meta.dirname, '../..');
export const COMPOSE_FILE = path.join(ROOT, 'docker-compose.yml');
export const LIBRECHAT_FILE = path.join(ROOT, 'docker-compose.librechat.yml');

export interface ComposeProject {
  readonly name: string;
  readonly files: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

let emptyEnvFile: string | undefined;
/** An empty --env-file: a .env in the checkout (an admin's or developer's own) must not change the test. */
function noEnvFile(): string {
  if (emptyEnvFile === undefined) {
    emptyEnvFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'codecell-compose-env-')), 'empty.env');
    writeFileSync(emptyEnvFile, '');
  }
  return emptyEnvFile;
}

/** Runs `docker-compose -p <name> -f … <args>`; rejects with its output when it fails. */
export async function compose(project: ComposeProject, args: readonly string[]): Promise<string> {
  const fileArgs = project.files.flatMap((file) => ['-f', file]);
  try {
    const { stdout } = await run('docker-compose', ['--env-file', noEnvFile(), '-p', project.name, ...fileArgs, ...args], {
      env: { ...process.env, ...project.env },
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  } catch (error) {
    const output = error as { stdout?: string; stderr?: string; message?: string };
    throw new Error(`docker-compose ${args.join(' ')} failed: ${output.message ?? ''}\n${output.stdout ?? ''}\n${output.stderr ?? ''}`);
  }
}

/** The id of a service's container. */
export async function containerOf(project: ComposeProject, service: string): Promise<string> {
  const id = (await compose(project, ['ps', '-q', service])).trim();
  if (!/^[0-9a-f]{64}$/.test(id)) throw new Error(`no container for ${service}: '${id}'`);
  return id;
}

/** Resolves when the container's log shows `pattern`; rejects when the log ends without it. */
export function awaitLog(containerId: string, pattern: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    const follower = spawn('docker', ['logs', '-f', containerId], { stdio: ['ignore', 'pipe', 'pipe'] });
    let seen = '';
    const onData = (chunk: Buffer): void => {
      seen = (seen + chunk.toString('utf8')).slice(-20_000);
      if (pattern.test(seen)) {
        follower.kill();
        resolve();
      }
    };
    follower.stdout.on('data', onData);
    follower.stderr.on('data', onData);
    follower.on('close', () => reject(new Error(`the log of ${containerId.slice(0, 12)} ended without ${pattern}:\n${seen.slice(-4000)}`)));
  });
}

/** `docker exec` one command; its stdout, or a rejection with stderr. */
export async function dockerExec(containerId: string, command: readonly string[]): Promise<string> {
  const { stdout } = await run('docker', ['exec', containerId, ...command], { maxBuffer: 4 * 1024 * 1024 });
  return stdout;
}

/** Resolves when the engine reports an event of the container (since `sinceSeconds`) matching `pattern`. */
export function awaitEvent(containerId: string, sinceSeconds: number, pattern: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    const follower = spawn('docker', ['events', '--since', String(sinceSeconds), '--filter', `container=${containerId}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let seen = '';
    follower.stdout.on('data', (chunk: Buffer) => {
      seen = (seen + chunk.toString('utf8')).slice(-20_000);
      if (pattern.test(seen)) {
        follower.kill();
        resolve();
      }
    });
    follower.on('close', () => reject(new Error(`the events of ${containerId.slice(0, 12)} ended without ${pattern}:\n${seen.slice(-4000)}`)));
  });
}
