/**
 * The driver the image tests share: runs an execution image's runner directly with the docker CLI
 * against images/PROTOCOL.md. One throwaway container per run, mounted the way the host mounts it,
 * the job line on stdin and frames on stdout, checked against the host's own frame schemas.
 */
import { afterAll, beforeAll } from 'vitest';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  FRAME_NONCE_END,
  FRAME_START,
  READY_NONCE,
  ReadyFrameSchema,
  ResultFrameSchema,
  type ReadyFrame,
  type ResultFrame,
} from '../../src/executor/runner-protocol.js';

export type Runtime = 'python' | 'node' | 'bash';

const RUN_TIMEOUT_MS = 60_000;

/** The job's `sourceLanguage` when a run does not name one. */
const DEFAULT_SOURCE_LANGUAGE: Record<Runtime, string> = { python: 'python', node: 'javascript', bash: 'bash' };

export interface Run {
  ready: ReadyFrame;
  result: ResultFrame;
  /** stdout without the frames: the user's output. */
  output: string;
  stderr: string;
}

/** A run with what the container itself did: all of stdout, frames included, and its exit code. */
export interface ContainerRun extends Run {
  stdout: string;
  exitCode: number | null;
}

export interface RunOptions {
  code: string;
  /** Host directory mounted at /mnt/data. */
  dataDir: string;
  /** Host directory mounted read-only at /run/codecell/in: holds the `state` to restore. */
  inDir: string;
  /** Host directory mounted at /run/codecell/out: holds `state` after the run. */
  outDir: string;
  /** Whether the job asks the runner to restore in/state. */
  restore: boolean;
  maxImages?: number;
  /** The runtime's default when left out. */
  sourceLanguage?: string;
  /** The program's arguments; left out of the job line when undefined, as hosts before `args` sent it. */
  args?: readonly string[];
  /** The job's optional `sourceMap` (TypeScript cells), sent as given; left out when undefined. */
  sourceMap?: unknown;
  /** Environment variables for the container (e.g. CODECELL_PRELOAD). */
  env?: Record<string, string>;
}

/**
 * A session: its files, and the snapshot the last run left. Each run is a new container; from the
 * second run on, the previous snapshot is restored.
 */
export interface Session {
  readonly dataDir: string;
  readonly statePath: string;
  /** Runs one job as the host does: wait for ready, send the job, close stdin. */
  run(code: string, sourceLanguage?: string, args?: readonly string[]): Promise<Run>;
}

export interface ImageHarness {
  readonly image: string;
  /** Checks the image is built and makes the scratch directory: call in beforeAll. */
  setUp(): void;
  /** Removes the scratch directory: call in afterAll. */
  tearDown(): void;
  /** A host directory the container's uid 10001 can write to (the tests run as root). */
  hostDir(): string;
  /** Runs one job in a new container, as the host does: wait for ready, send the job, close stdin. */
  runContainer(options: RunOptions): Promise<ContainerRun>;
  Session: new () => Session;
}

/** Takes the frame with `nonce` out of `stdout`: its JSON, and stdout without it. */
export function takeFrame(stdout: string, nonce: string): { json: unknown; rest: string } | undefined {
  const marker = FRAME_START + nonce + FRAME_NONCE_END;
  const start = stdout.indexOf(marker);
  if (start < 0) return undefined;
  const end = stdout.indexOf('\n', start);
  if (end < 0) return undefined;
  return {
    json: JSON.parse(stdout.slice(start + marker.length, end)),
    rest: stdout.slice(0, start) + stdout.slice(end + 1),
  };
}

/** `image` defaults to the runtime's image under CODECELL_IMAGE_PREFIX. */
export function imageHarness(runtime: Runtime, image = `${process.env.CODECELL_IMAGE_PREFIX ?? 'codecell'}-${runtime}:latest`): ImageHarness {
  let scratch: string | undefined;

  function setUp(): void {
    try {
      execFileSync('docker', ['image', 'inspect', image], { stdio: 'ignore' });
    } catch {
      throw new Error(`the image ${image} is missing: build it with scripts/build-images.sh`);
    }
    scratch = mkdtempSync(path.join(tmpdir(), `codecell-${runtime}-runner-`));
  }

  function tearDown(): void {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    scratch = undefined;
  }

  function hostDir(): string {
    if (!scratch) throw new Error('the image harness is not set up: call setUp() first (useImageHarness does)');
    const dir = mkdtempSync(path.join(scratch, 'dir-'));
    chmodSync(dir, 0o777);
    return dir;
  }

  async function runContainer(options: RunOptions): Promise<ContainerRun> {
    const nonce = randomBytes(16).toString('hex');
    const name = `codecell-${runtime}-runner-test-${randomBytes(6).toString('hex')}`;
    const job = {
      v: 1,
      nonce,
      code: options.code,
      restore: options.restore,
      maxImages: options.maxImages ?? 10,
      sourceLanguage: options.sourceLanguage ?? DEFAULT_SOURCE_LANGUAGE[runtime],
      ...(options.args === undefined ? {} : { args: options.args }),
      ...(options.sourceMap === undefined ? {} : { sourceMap: options.sourceMap }),
    };
    const env = Object.entries(options.env ?? {}).flatMap(([key, value]) => ['-e', `${key}=${value}`]);
    const args = [
      'run', '-i', '--rm', '--name', name,
      '--network', 'none', '--read-only',
      '--tmpfs', '/tmp', '--tmpfs', '/run/codecell/artifacts',
      '-v', `${options.dataDir}:/mnt/data`,
      '-v', `${options.inDir}:/run/codecell/in:ro`,
      '-v', `${options.outDir}:/run/codecell/out`,
      '--user', '10001',
      ...env,
      image,
    ];

    const child = spawn('docker', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let jobSent = false;
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    // The Python runner answers, then waits to be stopped, as the host stops it (images/PROTOCOL.md).
    let stopSent = false;
    const stopOnceAnswered = (): void => {
      if (runtime !== 'python' || stopSent || !jobSent) return;
      const ready = takeFrame(stdout, READY_NONCE);
      if (!ready || !takeFrame(ready.rest, nonce) || !stderr.includes(`${FRAME_START}${nonce}${FRAME_NONCE_END}`)) return;
      stopSent = true;
      execFile('docker', ['kill', name], () => undefined);
    };
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      if (!jobSent && takeFrame(stdout, READY_NONCE)) {
        jobSent = true;
        child.stdin.end(JSON.stringify(job) + '\n');
      }
      stopOnceAnswered();
    });
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      stopOnceAnswered();
    });
    const exitCode = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        // Killing the docker client would leave the container running: remove the container.
        execFileSync('docker', ['rm', '-f', name], { stdio: 'ignore' });
        reject(new Error(`the run did not finish within ${RUN_TIMEOUT_MS} ms; stdout so far:\n${stdout}\nstderr:\n${stderr}`));
      }, RUN_TIMEOUT_MS);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });

    const ready = takeFrame(stdout, READY_NONCE);
    const result = ready && takeFrame(ready.rest, nonce);
    if (!ready || !result) {
      throw new Error(`no ${ready ? 'result' : 'ready'} frame (exit ${exitCode}); stdout:\n${stdout}\nstderr:\n${stderr}`);
    }
    return {
      ready: ReadyFrameSchema.parse(ready.json),
      result: ResultFrameSchema.parse(result.json),
      output: result.rest,
      stderr,
      stdout,
      exitCode,
    };
  }

  class HarnessSession implements Session {
    readonly dataDir = hostDir();
    private readonly inDir = hostDir();
    private readonly outDir = hostDir();
    private runs = 0;

    get statePath(): string {
      return path.join(this.outDir, 'state');
    }

    async run(code: string, sourceLanguage?: string, args?: readonly string[]): Promise<Run> {
      const restore = this.runs > 0 && existsSync(this.statePath);
      if (restore) {
        copyFileSync(this.statePath, path.join(this.inDir, 'state'));
        // The blobs the snapshot needs (images/PROTOCOL.md, "Snapshots"), as the host links them in.
        const listed = path.join(this.outDir, 'state.blobs');
        const names = existsSync(listed) ? readFileSync(listed, 'utf8').split('\n').filter(Boolean) : [];
        if (names.length > 0) mkdirSync(path.join(this.inDir, 'blobs'), { recursive: true });
        for (const name of names) {
          const inBlob = path.join(this.inDir, 'blobs', name);
          if (!existsSync(inBlob)) copyFileSync(path.join(this.outDir, 'blobs', name), inBlob);
        }
      }
      this.runs++;
      const { ready, result, output, stderr } = await runContainer({
        code,
        dataDir: this.dataDir,
        inDir: this.inDir,
        outDir: this.outDir,
        restore,
        sourceLanguage,
        args,
      });
      return { ready, result, output, stderr };
    }
  }

  return { image, setUp, tearDown, hostDir, runContainer, Session: HarnessSession };
}

/** imageHarness(runtime), set up in beforeAll and torn down in afterAll of the calling file or describe. */
export function useImageHarness(runtime: Runtime): ImageHarness {
  const harness = imageHarness(runtime);
  beforeAll(() => harness.setUp());
  afterAll(() => harness.tearDown());
  return harness;
}
