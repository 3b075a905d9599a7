/**
 * The job queue on its own: jobs are promises the test finishes by hand, time is a number the test
 * moves. At most `concurrency` run, at most `maxWaiting` wait, past that QUEUE_FULL at once with a
 * retry-after that follows the observed run time; cancelled and shut-down jobs never start.
 */
import { describe, expect, it } from 'vitest';
import { CodecellError } from '../../../src/errors.js';
import { JobQueue } from '../../../src/executor/job-queue.js';

/** A job the test controls: `started` resolves when the queue runs it, `finish` ends it. */
function controlledJob<T>(value: T) {
  let markStarted!: () => void;
  let finish!: () => void;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  const finished = new Promise<void>((resolve) => (finish = resolve));
  let ran = false;
  const task = async (): Promise<T> => {
    ran = true;
    markStarted();
    await finished;
    return value;
  };
  return { task, started, finish, ran: () => ran };
}

async function refusal(promise: Promise<unknown>): Promise<CodecellError> {
  const error: unknown = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  if (!(error instanceof CodecellError)) throw new Error(`expected a CodecellError, got ${String(error)}`);
  return error;
}

function queueFullError(queue: JobQueue): CodecellError {
  try {
    queue.assertRoom();
  } catch (error) {
    if (error instanceof CodecellError) return error;
    throw error;
  }
  throw new Error('assertRoom found room');
}

describe('JobQueue', () => {
  it('runs at most `concurrency` jobs at once and starts a waiting one when a slot frees', async () => {
    const queue = new JobQueue(2, 10);
    const jobs = [controlledJob('a'), controlledJob('b'), controlledJob('c')];
    const results = jobs.map((job) => queue.run(job.task));
    await Promise.all([jobs[0]!.started, jobs[1]!.started]);
    expect(queue.running).toBe(2);
    expect(queue.waiting).toBe(1);
    expect(jobs[2]!.ran()).toBe(false);

    jobs[0]!.finish();
    expect(await results[0]).toBe('a');
    await jobs[2]!.started;
    expect(queue.running).toBe(2);
    expect(queue.waiting).toBe(0);

    jobs[1]!.finish();
    jobs[2]!.finish();
    expect(await Promise.all(results)).toEqual(['a', 'b', 'c']);
    expect(queue.running).toBe(0);
  });

  it('lets at most `maxWaiting` jobs wait, and refuses the next one at once with QUEUE_FULL', async () => {
    const queue = new JobQueue(1, 1);
    const running = controlledJob('running');
    const waiting = controlledJob('waiting');
    const refused = controlledJob('refused');
    const first = queue.run(running.task);
    await running.started;
    const second = queue.run(waiting.task);
    expect(queue.waiting).toBe(1);

    const error = await refusal(queue.run(refused.task));
    expect(error.code).toBe('QUEUE_FULL');
    expect(Number.isInteger(error.retryAfterSeconds)).toBe(true);
    expect(error.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(error.message).toContain('CODECELL_QUEUE_LIMIT=1');
    expect(refused.ran()).toBe(false);

    running.finish();
    waiting.finish();
    expect(await Promise.all([first, second])).toEqual(['running', 'waiting']);
    // Room again once the queue has drained.
    expect(() => queue.assertRoom()).not.toThrow();
  });

  it('with no waiting room, refuses as soon as every slot is busy', async () => {
    const queue = new JobQueue(1, 0);
    const running = controlledJob(1);
    const first = queue.run(running.task);
    await running.started;
    expect((await refusal(queue.run(async () => 2))).code).toBe('QUEUE_FULL');
    running.finish();
    expect(await first).toBe(1);
    expect(await queue.run(async () => 3)).toBe(3);
  });

  it('asks for a longer wait once jobs are seen to run long', async () => {
    let now = 0;
    const queue = new JobQueue(1, 1, () => now);
    const fill = async () => {
      const running = controlledJob(null);
      const waiting = controlledJob(null);
      const done = [queue.run(running.task), queue.run(waiting.task)];
      await running.started;
      return { running, waiting, done };
    };

    const fresh = await fill();
    const before = queueFullError(queue).retryAfterSeconds ?? 0;
    now += 60_000; // the running job takes a minute
    fresh.running.finish();
    await fresh.waiting.started;
    now += 60_000;
    fresh.waiting.finish();
    await Promise.all(fresh.done);

    const slow = await fill();
    const after = queueFullError(queue).retryAfterSeconds ?? 0;
    expect(after).toBeGreaterThan(before);
    slow.running.finish();
    slow.waiting.finish();
    await Promise.all(slow.done);
  });

  it('drops a waiting job whose caller gave up, without running it', async () => {
    const queue = new JobQueue(1, 5);
    const running = controlledJob('running');
    const abandoned = controlledJob('abandoned');
    const first = queue.run(running.task);
    await running.started;
    const caller = new AbortController();
    const second = queue.run(abandoned.task, caller.signal);
    caller.abort(new Error('client went away'));
    await expect(second).rejects.toThrow('client went away');
    running.finish();
    expect(await first).toBe('running');
    expect(abandoned.ran()).toBe(false);
    expect(queue.waiting).toBe(0);
  });

  it('keeps a running job, and its slot, until its task ends, even after its caller gave up', async () => {
    const queue = new JobQueue(1, 5);
    const running = controlledJob('killed by its owner');
    const next = controlledJob('next');
    const caller = new AbortController();
    const first = queue.run(running.task, caller.signal);
    await running.started;
    const second = queue.run(next.task);
    caller.abort(new Error('client went away')); // the task's owner hears this and stops it
    let firstSettled = false;
    void first.finally(() => (firstSettled = true));
    await Promise.resolve();
    expect(firstSettled).toBe(false);
    expect(queue.running).toBe(1);
    expect(next.ran()).toBe(false);
    running.finish();
    expect(await first).toBe('killed by its owner'); // the owner's answer (e.g. "killed") reaches the caller
    await next.started;
    next.finish();
    expect(await second).toBe('next');
  });

  it('on close, refuses new jobs and rejects waiting ones with SHUTTING_DOWN; a running job ends with its own answer', async () => {
    const queue = new JobQueue(1, 5);
    const running = controlledJob('stopped because the server is shutting down');
    const waiting = controlledJob('waiting');
    const first = queue.run(running.task);
    await running.started;
    const second = queue.run(waiting.task);
    queue.close();
    expect((await refusal(second)).code).toBe('SHUTTING_DOWN');
    expect((await refusal(queue.run(async () => 'late'))).code).toBe('SHUTTING_DOWN');
    running.finish();
    expect(await first).toBe('stopped because the server is shutting down');
    expect(waiting.ran()).toBe(false);
  });

  it('counts an admitted call that has not queued its job yet (it waits for its session) as waiting', async () => {
    const queue = new JobQueue(1, 1);
    const running = controlledJob('running');
    const first = queue.run(running.task);
    await running.started;
    const admission = queue.admit();
    expect(queue.waiting).toBe(1);
    expect((await refusal(queue.run(async () => 'late'))).code).toBe('QUEUE_FULL');
    expect(queueFullError(queue).message).toMatch(/1 are waiting/);
    const queued = admission.run(async () => 'admitted');
    expect(queue.waiting).toBe(1);
    running.finish();
    expect(await first).toBe('running');
    expect(await queued).toBe('admitted');
    expect(queue.waiting).toBe(0);
  });

  it('gives the place back when an admission is withdrawn, once only', async () => {
    const queue = new JobQueue(1, 1);
    const running = controlledJob('running');
    const first = queue.run(running.task);
    await running.started;
    const admission = queue.admit();
    admission.withdraw();
    admission.withdraw();
    expect(queue.waiting).toBe(0);
    await expect(admission.run(async () => 'too late')).rejects.toThrow(/already used/);
    const other = queue.admit();
    expect(() => queue.admit()).toThrow(/busy/);
    other.withdraw();
    running.finish();
    expect(await first).toBe('running');
  });

  it('admits no more than concurrency plus the waiting limit, even while slots are idle', () => {
    const queue = new JobQueue(2, 1);
    const places = [queue.admit(), queue.admit(), queue.admit()];
    expect(queue.running).toBe(0);
    expect(queue.waiting).toBe(3);
    expect(queueFullError(queue).code).toBe('QUEUE_FULL');
    for (const place of places) place.withdraw();
    expect(() => queue.assertRoom()).not.toThrow();
  });
});
