/** /healthz shares one Docker check between probes: coalesced while in flight, reused for a while, failures not kept. */
import { describe, expect, it } from 'vitest';
import type { HealthReport } from '../../../src/engine/types.js';
import { sharedCheck } from '../../../src/interfaces/http/ops-routes.js';

const REPORT: HealthReport = {
  ok: true,
  executor: { kind: 'docker', reachable: true, isolation: { mode: 'container', layers: {} } },
  docker: { reachable: true },
  pool: {},
  queue: { running: 0, waiting: 0 },
};

function countingCheck() {
  let calls = 0;
  let fail = false;
  const pending: { resolve: (report: HealthReport) => void; reject: (error: Error) => void }[] = [];
  const check = (): Promise<HealthReport> => {
    calls += 1;
    return new Promise((resolve, reject) => pending.push({ resolve, reject }));
  };
  const settle = () => {
    for (const entry of pending.splice(0)) {
      if (fail) entry.reject(new Error('docker down'));
      else entry.resolve(REPORT);
    }
  };
  return { check, settle, calls: () => calls, failNext: (value: boolean) => (fail = value) };
}

describe('sharedCheck', () => {
  it('runs one check for any number of concurrent probes, and reuses it until the time is up', async () => {
    let now = 0;
    const counting = countingCheck();
    const health = sharedCheck(counting.check, 1000, () => now);
    const probes = Array.from({ length: 500 }, () => health());
    expect(counting.calls()).toBe(1);
    counting.settle();
    expect(await Promise.all(probes)).toEqual(probes.map(() => REPORT));

    now += 999;
    await health();
    expect(counting.calls()).toBe(1);
    now += 1;
    const next = health();
    expect(counting.calls()).toBe(2);
    counting.settle();
    await next;
  });

  it('does not keep a failure: the next probe checks again', async () => {
    const counting = countingCheck();
    const health = sharedCheck(counting.check, 1000, () => 0);
    counting.failNext(true);
    const failed = health();
    counting.settle();
    await expect(failed).rejects.toThrow('docker down');
    counting.failNext(false);
    const retried = health();
    expect(counting.calls()).toBe(2);
    counting.settle();
    await expect(retried).resolves.toEqual(REPORT);
  });
});
