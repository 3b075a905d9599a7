/**
 * The admin's secrets and settings stay out of git, and compose never bind-mounts a secret file by
 * name: Docker would create a missing one as a directory (Codecell alone has no metrics key).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.join(import.meta.dirname, '..', '..', '..');
const COMPOSE = readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8');
const PROMETHEUS = readFileSync(path.join(ROOT, 'grafana', 'prometheus.yml'), 'utf8');

/** Whether git ignores `file` (relative to the checkout), by the checkout's own .gitignore files. */
function ignored(file: string): boolean {
  try {
    execFileSync('git', ['-C', ROOT, 'check-ignore', '--no-index', '-q', file]);
    return true;
  } catch {
    return false;
  }
}

describe('compose secrets', () => {
  it('git-ignores the metrics key, .env and the admin override, but keeps grafana/secrets/ itself', () => {
    expect(ignored('grafana/secrets/metrics.key')).toBe(true);
    expect(ignored('.env')).toBe(true);
    expect(ignored('docker-compose.override.yml')).toBe(true);
    expect(ignored('grafana/secrets/.gitignore')).toBe(false);
  });

  it('mounts grafana/secrets as a directory and names the key file only when .env does', () => {
    expect(COMPOSE).not.toMatch(/^\s*-\s*\S*metrics\.key\S*:/m);
    expect(COMPOSE).toContain('- ./grafana/secrets:/run/secrets/codecell:ro');
    expect(COMPOSE).toContain('- ./grafana/secrets:/etc/prometheus/secrets:ro');
    expect(COMPOSE).toContain('CODECELL_METRICS_KEYS_FILE: ${CODECELL_METRICS_KEYS_FILE:-}');
    expect(/credentials_file: (\S+)/.exec(PROMETHEUS)?.[1]).toBe('/etc/prometheus/secrets/metrics.key');
  });
});
