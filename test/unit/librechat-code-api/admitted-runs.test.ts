/**
 * AdmittedRuns on a real JobQueue: /exec requests admitted before they make a session or copy a
 * file hold their place until they hand the run to the queue, so a burst is refused at once past
 * the queue's capacity (slots + waiting places). No Docker.
 */
import { describe, expect, it } from 'vitest';
import { CodecellError } from '../../../src/errors.js';
import { JobQueue } from '../../../src/executor/job-queue.js';
import { AdmittedRuns } from '../../../src/interfaces/http/librechat-code-api/admitted-runs.js';

function refusedCode(admit: () => unknown): string | undefined {
  try {
    admit();
    return undefined;
  } catch (error) {
    if (error instanceof CodecellError) return error.code;
    throw error;
  }
}

describe('AdmittedRuns', () => {
  it('admits as many runs as the queue has places, then refuses with QUEUE_FULL until a place is given back', () => {
    const queue = new JobQueue(1, 2);
    const engine = { assertRoom: (reserved?: number) => queue.assertRoom(reserved) };
    const admitted = new AdmittedRuns();
    const places = [admitted.admit(engine), admitted.admit(engine), admitted.admit(engine)];
    expect(admitted.preparing).toBe(3);
    expect(refusedCode(() => admitted.admit(engine))).toBe('QUEUE_FULL');

    places[0]!();
    places[0]!(); // a second call gives back nothing more
    expect(admitted.preparing).toBe(2);
    expect(refusedCode(() => admitted.admit(engine))).toBeUndefined();
    expect(refusedCode(() => admitted.admit(engine))).toBe('QUEUE_FULL');
  });

  it('counts runs already in the queue: a place handed to the queue is still taken', async () => {
    const queue = new JobQueue(1, 1);
    const engine = { assertRoom: (reserved?: number) => queue.assertRoom(reserved) };
    const admitted = new AdmittedRuns();
    let finish!: () => void;
    const holding = new Promise<void>((resolve) => (finish = resolve));
    const handOver = admitted.admit(engine);
    const running = queue.run(() => holding);
    handOver();
    expect(queue.running).toBe(1);
    const second = admitted.admit(engine); // the one waiting place
    expect(refusedCode(() => admitted.admit(engine))).toBe('QUEUE_FULL');
    second();
    finish();
    await running;
    expect(refusedCode(() => admitted.admit(engine))).toBeUndefined();
  });
});

describe('JobQueue.assertRoom with places promised', () => {
  it('refuses when running + waiting + promised fill every slot and waiting place', () => {
    const queue = new JobQueue(2, 1);
    expect(() => queue.assertRoom(2)).not.toThrow();
    expect(() => queue.assertRoom(3)).toThrow(CodecellError);
    const queueWithoutWaiting = new JobQueue(1, 0);
    expect(() => queueWithoutWaiting.assertRoom()).not.toThrow();
    expect(() => queueWithoutWaiting.assertRoom(1)).toThrow('busy');
  });
});
