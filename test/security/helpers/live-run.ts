/**
 * A tool call still in progress, watched through its MCP progress notifications (they carry the
 * run's output live). Lets a test order itself on what a run has done, never on a sleep: await
 * `printed('ready')` proves the program got that far and was still running when it said so.
 */
import type { Progress } from '@modelcontextprotocol/sdk/types.js';

interface Waiter {
  readonly text: string;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

export class LiveRun<T extends { readonly stdout: string }> {
  private streamed = '';
  private waiters: Waiter[] = [];
  private settled = false;
  private readonly abort = new AbortController();
  /** The run's result; rejects when the run is cancelled. */
  readonly result: Promise<T>;

  /** `call` starts the tool call with these progress and cancellation hooks. */
  constructor(call: (onprogress: (progress: Progress) => void, signal: AbortSignal) => Promise<T>) {
    this.result = call((progress) => this.onProgress(progress), this.abort.signal);
    this.result.then(
      (out) => this.settle(`the run ended before it printed the text; its stdout: ${JSON.stringify(out.stdout.slice(-2000))}`),
      (error: unknown) => this.settle(`the run failed before it printed the text: ${String(error)}`),
    );
  }

  /** True once the run's result is in (or the call failed). */
  get ended(): boolean {
    return this.settled;
  }

  /** Resolves once the run's live output holds `text`; rejects if the run ends first. */
  printed(text: string): Promise<void> {
    if (this.streamed.includes(text)) return Promise.resolve();
    if (this.settled) return Promise.reject(new Error(`the run had already ended; "${text}" was never printed`));
    return new Promise<void>((resolve, reject) => this.waiters.push({ text, resolve, reject }));
  }

  /** Cancels the call (the server then kills its container) and waits for the call to end. */
  async cancel(): Promise<void> {
    this.abort.abort(new Error('cancelled by the test'));
    await this.result.then(
      () => undefined,
      () => undefined,
    );
  }

  private onProgress(progress: Progress): void {
    if (typeof progress.message !== 'string') return;
    this.streamed += progress.message;
    const waiting = this.waiters;
    this.waiters = [];
    for (const waiter of waiting) {
      if (this.streamed.includes(waiter.text)) waiter.resolve();
      else this.waiters.push(waiter);
    }
  }

  private settle(why: string): void {
    this.settled = true;
    for (const waiter of this.waiters) waiter.reject(new Error(`"${waiter.text}": ${why}`));
    this.waiters = [];
  }
}
