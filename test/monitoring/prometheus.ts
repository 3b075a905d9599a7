/**
 * Debian's Prometheus (with promtool) for the monitoring test: an image built here from the project's
 * Debian base (scripts/build-images.sh makes it; no Docker Hub), a container on the host network so it
 * reaches a server on 127.0.0.1, and a small client for its HTTP API.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { GenericContainer, Wait, type StartedTestContainer } from 'testcontainers';
import { z } from 'zod';

const run = promisify(execFile);

const IMAGE_DIR = path.join(import.meta.dirname, 'prometheus-image');
/** The bases build-images.sh builds on, in its order of preference. */
const BASES = ['debian:bookworm-slim', 'codecell-base:bookworm'];

export const PROMETHEUS_IMAGE = `${process.env.CODECELL_IMAGE_PREFIX ?? 'codecell'}-prometheus-test:latest`;

async function imageExists(name: string): Promise<boolean> {
  try {
    await run('docker', ['image', 'inspect', name]);
    return true;
  } catch {
    return false;
  }
}

/** Builds the Prometheus image (apt's layer cache makes a rebuild quick) on whichever base is present. */
export async function buildPrometheusImage(): Promise<string> {
  let base: string | undefined;
  for (const candidate of BASES) if (base === undefined && (await imageExists(candidate))) base = candidate;
  if (base === undefined) throw new Error(`no Debian base image (${BASES.join(' or ')}): run scripts/build-images.sh first`);
  await run('docker', ['build', '--network', 'host', '--build-arg', `BASE_IMAGE=${base}`, '-t', PROMETHEUS_IMAGE, IMAGE_DIR], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return PROMETHEUS_IMAGE;
}

export interface PrometheusFiles {
  /** Container path → file content. */
  readonly [containerPath: string]: string;
}

export async function startPrometheus(port: number, configPath: string, files: PrometheusFiles): Promise<StartedTestContainer> {
  // As the other container tests: the engine is local, so testcontainers need not look for its host.
  process.env.TESTCONTAINERS_HOST_OVERRIDE ??= '127.0.0.1';
  return new GenericContainer(PROMETHEUS_IMAGE)
    .withNetworkMode('host')
    .withCopyContentToContainer(Object.entries(files).map(([target, content]) => ({ target, content, mode: 0o444 })))
    .withCommand([
      `--config.file=${configPath}`,
      '--storage.tsdb.path=/tmp/prometheus',
      `--web.listen-address=127.0.0.1:${port}`,
    ])
    .withWaitStrategy(Wait.forLogMessage(/Server is ready to receive web requests/))
    .start();
}

const SampleSchema = z.object({ metric: z.record(z.string(), z.string()), value: z.tuple([z.number(), z.string()]) });
export type Sample = z.infer<typeof SampleSchema>;

const QueryAnswerSchema = z.object({
  status: z.literal('success'),
  data: z.object({ resultType: z.literal('vector'), result: z.array(SampleSchema) }),
});

const AlertsAnswerSchema = z.object({
  status: z.literal('success'),
  data: z.object({ alerts: z.array(z.object({ labels: z.record(z.string(), z.string()), state: z.string() })) }),
});

export class PrometheusApi {
  constructor(private readonly base: string) {}

  /** An instant query; throws when Prometheus refuses the expression. */
  async query(expr: string): Promise<Sample[]> {
    const response = await fetch(`${this.base}/api/v1/query?${new URLSearchParams({ query: expr })}`);
    const body: unknown = await response.json();
    if (!response.ok) throw new Error(`query ${expr} failed: ${response.status} ${JSON.stringify(body)}`);
    return QueryAnswerSchema.parse(body).data.result;
  }

  async alerts(): Promise<Array<{ labels: Record<string, string>; state: string }>> {
    const response = await fetch(`${this.base}/api/v1/alerts`);
    return AlertsAnswerSchema.parse(await response.json()).data.alerts;
  }
}

/**
 * Asks `probe` again and again until it returns a value, and returns that; throws with `what` and the
 * last value seen once `deadlineMs` has passed. Prometheus scrapes and evaluates on its own clock: this
 * waits for the outcome, not for a guessed time.
 */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, deadlineMs: number, everyMs = 500): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}${lastError === undefined ? '' : `: ${String(lastError)}`}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
