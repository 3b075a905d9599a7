/**
 * The per-session lock on its own: holders run one at a time in arrival order, and a waiter that
 * gives up leaves the line without ever holding the key or blocking the ones behind it.
 */
import { describe, expect, it } from 'vitest';
import { KeyedMutex } from '../../../src/sessions/keyed-mutex.js';

describe('KeyedMutex', () => {
  it('hands the key over in arrival order', async () => {
    const mutex = new KeyedMutex();
    const order: string[] = [];
    const releaseFirst = await mutex.acquire('s');
    const second = mutex.acquire('s').then((release) => {
      order.push('second');
      release();
    });
    const third = mutex.run('s', async () => void order.push('third'));
    order.push('first');
    releaseFirst();
    await Promise.all([second, third]);
    expect(order).toEqual(['first', 'second', 'third']);
    expect(mutex.isBusy('s')).toBe(false);
  });

  it('lets a waiter give up: it never holds the key, and the next waiter gets it after the holder', async () => {
    const mutex = new KeyedMutex();
    const releaseHolder = await mutex.acquire('s');
    const caller = new AbortController();
    const givenUp = mutex.acquire('s', caller.signal);
    let nextHolds = false;
    const next = mutex.acquire('s').then((release) => {
      nextHolds = true;
      return release;
    });
    caller.abort(new Error('client went away'));
    await expect(givenUp).rejects.toThrow('client went away');
    await Promise.resolve();
    expect(nextHolds).toBe(false);
    releaseHolder();
    const releaseNext = await next;
    expect(nextHolds).toBe(true);
    releaseNext();
    expect(mutex.isBusy('s')).toBe(false);
  });

  it('frees the key when the last waiter gives up after the holder is gone', async () => {
    const mutex = new KeyedMutex();
    const releaseHolder = await mutex.acquire('s');
    const caller = new AbortController();
    const givenUp = mutex.acquire('s', caller.signal);
    caller.abort(new Error('gone'));
    await expect(givenUp).rejects.toThrow('gone');
    expect(mutex.isBusy('s')).toBe(true);
    releaseHolder();
    // Promise callbacks only (no timers run in between): the key is free once they have run.
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(mutex.isBusy('s')).toBe(false);
  });

  it('refuses at once when the signal has already aborted', async () => {
    const mutex = new KeyedMutex();
    await expect(mutex.acquire('s', AbortSignal.abort(new Error('already')))).rejects.toThrow('already');
    expect(mutex.isBusy('s')).toBe(false);
  });
});
