/**
 * Series that must exist before their first event (so increase() sees it), and the gauges read at
 * scrape time: sessions and executor reachability.
 */
import { describe, expect, it } from 'vitest';
import { EXECUTION_STATUSES, LANGUAGES } from '../../../src/domain/types.js';
import { POOL_KEYS } from '../../../src/executor/pool-key.js';
import { Metrics } from '../../../src/metrics/metrics.js';

/** Prometheus text exposition → value per "name{labels}" line. */
function samples(text: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const at = line.lastIndexOf(' ');
    found.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return found;
}

describe('metrics series', () => {
  it('has every language × status of executions and every pool × result of pool takes at 0 from the start', async () => {
    const metrics = new Metrics({ collectProcessMetrics: false });
    const exposed = samples(await metrics.registry.metrics());
    const statuses = [...EXECUTION_STATUSES, 'rejected'];
    for (const language of LANGUAGES) {
      for (const status of statuses) expect(exposed.get(`codecell_executions_total{language="${language}",status="${status}"}`)).toBe(0);
    }
    for (const pool of POOL_KEYS) {
      for (const result of ['hit', 'waited', 'miss']) expect(exposed.get(`codecell_pool_takes_total{pool="${pool}",result="${result}"}`)).toBe(0);
    }
    expect([...exposed.keys()].filter((key) => key.startsWith('codecell_executions_total{'))).toHaveLength(LANGUAGES.length * statuses.length);
  });

  it('counts sessions at scrape time, from the source it is given', async () => {
    const metrics = new Metrics({ collectProcessMetrics: false });
    expect(samples(await metrics.registry.metrics()).get('codecell_sessions')).toBe(0);
    let live = 3;
    metrics.countSessionsWith(() => live);
    expect(samples(await metrics.registry.metrics()).get('codecell_sessions')).toBe(3);
    live = 1;
    expect(samples(await metrics.registry.metrics()).get('codecell_sessions')).toBe(1);
  });

  it('reports the executor up or down as its probe answers, and down when the probe throws', async () => {
    const metrics = new Metrics({ collectProcessMetrics: false });
    expect([...samples(await metrics.registry.metrics()).keys()].some((key) => key.startsWith('codecell_executor_up'))).toBe(false);
    let answer: () => Promise<boolean> = async () => true;
    metrics.watchExecutor({ kind: 'docker', reachable: () => answer() });
    expect(samples(await metrics.registry.metrics()).get('codecell_executor_up{executor="docker"}')).toBe(1);
    answer = async () => false;
    expect(samples(await metrics.registry.metrics()).get('codecell_executor_up{executor="docker"}')).toBe(0);
    answer = async () => {
      throw new Error('connect ENOENT /var/run/docker.sock');
    };
    expect(samples(await metrics.registry.metrics()).get('codecell_executor_up{executor="docker"}')).toBe(0);
  });

  it('asks the executor once for concurrent scrapes, and anew for the next scrape', async () => {
    const metrics = new Metrics({ collectProcessMetrics: false });
    let asked = 0;
    let answer: (up: boolean) => void = () => undefined;
    let probeStarted: () => void = () => undefined;
    const started = () =>
      new Promise<void>((resolve) => {
        probeStarted = resolve;
      });
    metrics.watchExecutor({
      kind: 'docker',
      reachable: () => {
        asked += 1;
        probeStarted();
        return new Promise<boolean>((resolve) => {
          answer = resolve;
        });
      },
    });
    let probe = started();
    const scrapes = Array.from({ length: 10 }, () => metrics.registry.metrics());
    await probe;
    answer(true);
    for (const text of await Promise.all(scrapes)) expect(samples(text).get('codecell_executor_up{executor="docker"}')).toBe(1);
    expect(asked).toBe(1);
    probe = started();
    const next = metrics.registry.metrics();
    await probe;
    answer(false);
    expect(samples(await next).get('codecell_executor_up{executor="docker"}')).toBe(0);
    expect(asked).toBe(2);
  });
});
