/**
 * The shipped monitoring, for real: Debian's Prometheus scrapes a running Codecell with the
 * metrics-only key, promtool accepts the shipped config and rules, the dashboard's own expressions
 * see a first timeout and a first OOM, and the shipped alert rules fire once the server is gone.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { StartedTestContainer } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadSettings } from '../../src/config/settings.js';
import { createLogger } from '../../src/logger.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { startHttpServer, type RunningServer } from '../../src/server.js';
import { principalFor } from '../../src/sessions/principal.js';
import { SMALL_POOLS, TEST_EXECUTOR, TEST_IMAGES } from '../helpers/engine.js';
import { freePort, TEST_KEY } from '../interfaces/helpers/test-server.js';
import { buildPrometheusImage, PrometheusApi, startPrometheus, until, type Sample } from './prometheus.js';

const ROOT = path.join(import.meta.dirname, '..', '..');
const SHIPPED_CONFIG = readFileSync(path.join(ROOT, 'grafana', 'prometheus.yml'), 'utf8');
const SHIPPED_RULES = readFileSync(path.join(ROOT, 'grafana', 'alerts.yml'), 'utf8');
const DashboardSchema = z.object({
  panels: z.array(z.object({ title: z.string(), targets: z.array(z.object({ expr: z.string() })) })),
  templating: z.object({ list: z.array(z.object({ name: z.string(), current: z.object({ value: z.string() }) })) }),
});
const DASHBOARD = DashboardSchema.parse(JSON.parse(readFileSync(path.join(ROOT, 'grafana', 'dashboards', 'codecell.json'), 'utf8')));

// The paths the shipped prometheus.yml and docker-compose.yml use inside the container.
const CONFIG_PATH = '/etc/prometheus/prometheus.yml';
const RULES_PATH = '/etc/prometheus/rules/codecell-alerts.yml';
const KEY_PATH = '/etc/prometheus/secrets/metrics.key';
const TEST_CONFIG_PATH = '/etc/prometheus/prometheus-test.yml';

/** `text` with `from` replaced, failing when the shipped file no longer has it (the test would then test nothing). */
function replaceOnce(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`the shipped prometheus.yml no longer contains ${JSON.stringify(from)}`);
  return text.replace(from, to);
}

/** The shipped config, scraping the test server often: only the target and the intervals differ. */
function testConfig(serverPort: number): string {
  let config = replaceOnce(SHIPPED_CONFIG, 'codecell:7860', `127.0.0.1:${serverPort}`);
  config = replaceOnce(config, 'scrape_interval: 15s', 'scrape_interval: 2s\n  scrape_timeout: 2s');
  return replaceOnce(config, 'evaluation_interval: 15s', 'evaluation_interval: 1s');
}

/** Every expression of the dashboard, with its template variables set to their defaults. */
function dashboardExpressions(): Array<{ panel: string; expr: string }> {
  const variables = new Map(DASHBOARD.templating.list.map((variable) => [variable.name, variable.current.value]));
  return DASHBOARD.panels.flatMap((panel) =>
    panel.targets.map((target) => ({
      panel: panel.title,
      expr: target.expr.replace(/\$(\w+)/g, (whole, name: string) => {
        const value = variables.get(name);
        if (value === undefined) throw new Error(`panel ${panel.title} uses $${name}, which the dashboard does not define`);
        return value;
      }),
    })),
  );
}

/** The sum of the samples whose labels include `labels`; undefined when none does. */
function valueOf(samples: readonly Sample[], labels: Record<string, string>): number | undefined {
  const found = samples.filter((sample) => Object.entries(labels).every(([name, value]) => sample.metric[name] === value));
  return found.length === 0 ? undefined : found.reduce((sum, sample) => sum + Number(sample.value[1]), 0);
}

const METRICS_KEY = randomBytes(24).toString('hex');
let server: RunningServer;
let serverPort: number;
let dataDir: string;
let prometheus: StartedTestContainer;
let api: PrometheusApi;
let serverClosed = false;

beforeAll(async () => {
  await buildPrometheusImage();
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'codecell-monitoring-test-'));
  const settings = loadSettings(
    {},
    {
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      CODECELL_API_KEYS: TEST_KEY,
      CODECELL_METRICS_KEYS: METRICS_KEY,
      CODECELL_MEMORY_MB: '256',
      ...TEST_IMAGES,
      ...TEST_EXECUTOR,
      ...SMALL_POOLS,
      CODECELL_DATA_DIR: dataDir,
    },
  );
  // Process metrics on: the dashboard's CPU, memory and event-loop panels read them.
  server = await startHttpServer({ settings, logger: createLogger(settings.logLevel), metrics: new Metrics() });
  serverPort = Number(new URL(server.url).port);
  const prometheusPort = await freePort();
  prometheus = await startPrometheus(prometheusPort, TEST_CONFIG_PATH, {
    [CONFIG_PATH]: SHIPPED_CONFIG,
    [TEST_CONFIG_PATH]: testConfig(serverPort),
    [RULES_PATH]: SHIPPED_RULES,
    [KEY_PATH]: `${METRICS_KEY}\n`,
  });
  api = new PrometheusApi(`http://127.0.0.1:${prometheusPort}`);
}, 600_000);

afterAll(async () => {
  await prometheus?.stop();
  if (!serverClosed) await server?.close();
  if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
});

describe('monitoring with Debian Prometheus', () => {
  it('promtool accepts the shipped config and rules', async () => {
    const config = await prometheus.exec(['promtool', 'check', 'config', CONFIG_PATH]);
    expect(config.output).toContain('SUCCESS');
    expect(config.exitCode).toBe(0);
    const rules = await prometheus.exec(['promtool', 'check', 'rules', RULES_PATH]);
    expect(rules.output).toMatch(/SUCCESS: \d+ rules found/);
    expect(rules.exitCode).toBe(0);
  });

  it('scrapes with the metrics-only key, which opens nothing else', async () => {
    const up = await until('the codecell target to be up', async () => {
      const samples = await api.query('up{job="codecell"}');
      return valueOf(samples, {}) === 1 ? samples : undefined;
    }, 60_000);
    expect(up[0]?.metric.instance).toBe(`127.0.0.1:${serverPort}`);
    const run = await fetch(`${server.url}/v1/exec`, {
      method: 'POST',
      headers: { authorization: `Bearer ${METRICS_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ lang: 'py', code: 'print(1)' }),
    });
    expect(run.status).toBe(401);
    const executor = await until('codecell_executor_up = 1', async () => {
      const samples = await api.query('codecell_executor_up');
      return samples.length === 1 && samples[0]?.value[1] === '1' ? samples : undefined;
    }, 30_000);
    expect(['docker', 'process']).toContain(executor[0]?.metric.executor);
  });

  it('/readyz turns ready once every warm pool has its first runner', async () => {
    const report = await until('/readyz to answer 200', async () => {
      const response = await fetch(`${server.url}/readyz`, { headers: { authorization: `Bearer ${TEST_KEY}` } });
      return response.status === 200 ? ((await response.json()) as { ready: boolean; pools: Record<string, { state: string }> }) : undefined;
    }, 120_000);
    expect(report.ready).toBe(true);
    expect(Object.values(report.pools).every((pool) => pool.state === 'ready')).toBe(true);
    expect(Object.keys(report.pools)).toContain('python');
    expect(await (await fetch(`${server.url}/readyz`)).json()).toEqual({ ready: true });
  });

  it('shows a first timeout and a first OOM on the dashboard', { timeout: 240_000 }, async () => {
    // The series exist at 0 before the first event, so increase() can see it.
    const before = await until('the python timeout series at 0', async () => {
      const samples = await api.query('codecell_executions_total{language="python",status=~"timeout|oom"}');
      return samples.length === 2 ? samples : undefined;
    }, 30_000);
    expect(before.map((sample) => sample.value[1])).toEqual(['0', '0']);

    const principal = principalFor(TEST_KEY, null);
    const slow = await server.engine.execute({ principal, language: 'python', code: 'while True:\n    pass', timeoutMs: 1_500 });
    expect(slow.status).toBe('timeout');
    const bomb = await server.engine.execute({
      principal,
      language: 'python',
      code: 'blocks = []\nwhile True:\n    blocks.append(bytearray(16 * 1024 * 1024))',
    });
    expect(bomb.status).toBe('oom');

    // A panel split by language must show them under python, the language that ran.
    const of = (status: string, samples: readonly Sample[]): Record<string, string> =>
      samples.some((sample) => 'language' in sample.metric) ? { status, language: 'python' } : { status };
    const failurePanels = dashboardExpressions().filter(({ expr }) => expr.includes('timeout|oom'));
    expect(failurePanels.length).toBeGreaterThanOrEqual(2);
    for (const { panel, expr } of failurePanels) {
      const samples = await until(`${panel} to show the timeout and the OOM`, async () => {
        const result = await api.query(expr);
        return (valueOf(result, of('timeout', result)) ?? 0) > 0 && (valueOf(result, of('oom', result)) ?? 0) > 0 ? result : undefined;
      }, 60_000);
      expect(valueOf(samples, of('timeout', samples))).toBeGreaterThan(0);
      expect(valueOf(samples, of('oom', samples))).toBeGreaterThan(0);
    }
    // Both runs went to the principal's default session, made on the first run.
    const sessions = await until('codecell_sessions = 1', async () => {
      const result = await api.query('codecell_sessions');
      return valueOf(result, {}) === 1 ? result : undefined;
    }, 30_000);
    expect(sessions).toHaveLength(1);
  });

  it('every dashboard expression is valid, and the process and queue panels have data', async () => {
    const needData = ['Queue wait', 'process CPU', 'process memory', 'Event-loop lag', 'Executor reachable'];
    for (const { panel, expr } of dashboardExpressions()) {
      const samples = await api.query(expr);
      if (needData.some((title) => panel.includes(title))) expect(samples.length, `${panel}: ${expr}`).toBeGreaterThan(0);
    }
  });

  it('fires the target-down alert once the server is stopped', { timeout: 240_000 }, async () => {
    await server.close();
    serverClosed = true;
    const firing = await until('CodecellTargetDown to fire', async () => {
      const alerts = await api.alerts();
      return alerts.find((alert) => alert.labels.alertname === 'CodecellTargetDown' && alert.state === 'firing');
    }, 180_000);
    expect(firing.labels.severity).toBe('critical');
    expect(firing.labels.instance).toBe(`127.0.0.1:${serverPort}`);
  });
});
