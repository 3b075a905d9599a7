/**
 * The shipped alert rules under promtool's own unit tests (test/monitoring/alert-rules.promtool.yml):
 * a healthy server, idle or quiet, raises no alert, and each alert fires on the trouble it names.
 * Runs Debian's promtool in the image the monitoring test builds.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { GenericContainer, type StartedTestContainer } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPrometheusImage } from './prometheus.js';

const ROOT = path.join(import.meta.dirname, '..', '..');

let promtool: StartedTestContainer;

beforeAll(async () => {
  const image = await buildPrometheusImage();
  process.env.TESTCONTAINERS_HOST_OVERRIDE ??= '127.0.0.1';
  promtool = await new GenericContainer(image)
    .withEntrypoint(['sleep'])
    .withCommand(['600'])
    .withCopyContentToContainer([
      { target: '/tmp/rules/alerts.yml', content: readFileSync(path.join(ROOT, 'grafana', 'alerts.yml'), 'utf8'), mode: 0o444 },
      { target: '/tmp/rules/tests.yml', content: readFileSync(path.join(import.meta.dirname, 'alert-rules.promtool.yml'), 'utf8'), mode: 0o444 },
    ])
    .start();
});

afterAll(async () => {
  await promtool?.stop();
});

describe('alert rules', () => {
  it('pass promtool test rules: quiet when healthy, firing on trouble', async () => {
    const result = await promtool.exec(['promtool', 'test', 'rules', 'tests.yml'], { workingDir: '/tmp/rules' });
    expect(result.output).toContain('SUCCESS');
    expect(result.output).not.toContain('FAILED');
    expect(result.exitCode).toBe(0);
  });
});
