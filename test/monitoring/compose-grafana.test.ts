/**
 * docker-compose.yml as an admin runs it: Codecell alone needs no monitoring variable, and Grafana
 * (profile "monitoring") refuses to start without GRAFANA_ADMIN_PASSWORD, never falling back to
 * admin/admin. Grafana's image is not reachable here (no Docker Hub), so an override puts the
 * Prometheus test image in its place with a /run.sh (Grafana's entrypoint) that reports how it was called:
 * the shipped entrypoint guard is what runs.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPrometheusImage } from './prometheus.js';

const run = promisify(execFile);
const COMPOSE_FILE = path.join(import.meta.dirname, '..', '..', 'docker-compose.yml');
const PROJECT = `cc-compose-grafana-${process.pid}`;

async function hasCompose(): Promise<boolean> {
  try {
    await run('docker-compose', ['version']);
    return true;
  } catch {
    return false;
  }
}
const COMPOSE = await hasCompose();
if (!COMPOSE) console.warn('compose-grafana.test.ts: docker-compose is not installed; skipped');

let dir: string;
let override: string;
let emptyEnvFile: string;

/** docker-compose with only the given variables (an empty --env-file: a developer's .env must not count). */
async function compose(env: Record<string, string>, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('docker-compose', ['--env-file', emptyEnvFile, ...args], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

beforeAll(async () => {
  if (!COMPOSE) return;
  const image = await buildPrometheusImage();
  dir = mkdtempSync(path.join(os.tmpdir(), 'codecell-compose-grafana-'));
  emptyEnvFile = path.join(dir, 'empty.env');
  writeFileSync(emptyEnvFile, '');
  const runSh = path.join(dir, 'run.sh');
  writeFileSync(runSh, '#!/bin/sh\necho "grafana started as $GF_SECURITY_ADMIN_USER with password $GF_SECURITY_ADMIN_PASSWORD"\n');
  chmodSync(runSh, 0o755);
  override = path.join(dir, 'override.yml');
  writeFileSync(override, `services:\n  grafana:\n    image: ${image}\n    volumes:\n      - ${runSh}:/run.sh:ro\n`);
});

afterAll(async () => {
  if (!COMPOSE) return;
  await compose({ CODECELL_API_KEYS: 'k' }, ['-p', PROJECT, '-f', COMPOSE_FILE, '-f', override, '--profile', 'monitoring', 'down', '-v']);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!COMPOSE)('docker-compose.yml and Grafana’s password', () => {
  it('needs no monitoring variable for Codecell alone', async () => {
    const result = await compose({ CODECELL_API_KEYS: 'k' }, ['-f', COMPOSE_FILE, 'config', '--services']);
    expect(result.stderr).not.toContain('GRAFANA_ADMIN_PASSWORD');
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n')).toContain('codecell');
  });

  it('refuses to start Grafana without GRAFANA_ADMIN_PASSWORD, and starts it with the password when set', async () => {
    const runGrafana = ['-p', PROJECT, '-f', COMPOSE_FILE, '-f', override, '--profile', 'monitoring', 'run', '--rm', '--no-deps', '-T', 'grafana'];
    const refused = await compose({ CODECELL_API_KEYS: 'k' }, runGrafana);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('set GRAFANA_ADMIN_PASSWORD in .env');
    expect(refused.stdout).not.toContain('grafana started');

    const started = await compose({ CODECELL_API_KEYS: 'k', GRAFANA_ADMIN_PASSWORD: 'a password with spaces' }, runGrafana);
    expect(started.code).toBe(0);
    expect(started.stdout).toContain('grafana started as admin with password a password with spaces');
  });
});
