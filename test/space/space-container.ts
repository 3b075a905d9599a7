/** A container of the Space image, started with `docker run` as the Space starts it, until stopped. */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { SPACE_RUN_FLAGS } from '../../scripts/space/space-image.js';

const run = promisify(execFile);
const LISTENING = /codecell listening/;

/** Beyond the Space's own flags, only limits far above the sandbox's that protect this shared machine. */
const SAFETY_NET = ['--pids-limit', '4096', '--memory', '4g'];

/**
 * What every Space server in the tests is started with: the safety net, `bucket` at /data, the API key
 * as the Space secret, and, on host networking (the engine may have no bridge), loopback only on `port`.
 */
export function spaceServerFlags(bucket: string, apiKey: string, port: number): string[] {
  return [...SAFETY_NET, '-v', `${bucket}:/data`, '-e', `CODECELL_API_KEYS=${apiKey}`, '-e', 'HOST=127.0.0.1', '-e', `PORT=${port}`];
}

export interface SpaceContainer {
  readonly id: string;
  /** Everything the server logged so far. */
  logs(): string;
  /** True while the container (so the server, its main process) runs. */
  running(): Promise<boolean>;
  /** Runs a command in the container as its own user (uid 1000); resolves with stdout. */
  exec(command: readonly string[]): Promise<string>;
  stop(): Promise<void>;
}

/**
 * `docker run -d` the image with the Space's flags plus `extra` (mounts, environment); resolves once
 * the server logs that it listens, rejects with its log when it exits first.
 */
export async function startSpaceContainer(image: string, extra: readonly string[]): Promise<SpaceContainer> {
  const { stdout } = await run('docker', ['run', '-d', ...SPACE_RUN_FLAGS, ...extra, image]);
  const id = stdout.trim();
  let logged = '';
  const follower = spawn('docker', ['logs', '-f', id], { stdio: ['ignore', 'pipe', 'pipe'] });
  const container: SpaceContainer = {
    id,
    logs: () => logged,
    async running() {
      const { stdout: state } = await run('docker', ['inspect', '-f', '{{.State.Running}}', id]);
      return state.trim() === 'true';
    },
    async exec(command) {
      const { stdout: out } = await run('docker', ['exec', id, ...command], { maxBuffer: 16 * 1024 * 1024 });
      return out;
    },
    async stop() {
      follower.kill();
      await run('docker', ['rm', '-f', id]);
    },
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        logged += chunk.toString('utf8');
        if (LISTENING.test(logged)) resolve();
      };
      follower.stdout.on('data', onData);
      follower.stderr.on('data', onData);
      // `docker logs -f` ends when the container does: the server exited before it listened.
      follower.on('close', () => reject(new Error(`the Space container exited before the server listened:\n${logged.slice(-6000)}`)));
    });
  } catch (error) {
    await container.stop();
    throw error;
  }
  return container;
}
