/**
 * The bench's logger: what the executor logs about each run at debug level ("execution phases (ms)":
 * the run flow's phases and the runner's own restore/run/save times) is kept for the tables;
 * warnings and errors go to stderr.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { PoolKey } from '../src/executor/pool-key.js';

export interface PhaseRecord {
  session: string;
  pool: PoolKey;
  warm: boolean;
  run: Record<string, number>;
  runner: { restoreMs?: number; runMs?: number; saveMs?: number } | null;
  /** CPU of everything inside the container (init, runner, warm-up) up to the result frame. */
  containerCpuMs: number | null;
}

export const phaseRecords: PhaseRecord[] = [];

const logSink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line) continue;
      try {
        const record = JSON.parse(line) as { msg?: string; level?: number };
        if (record.msg === 'execution phases (ms)') phaseRecords.push(record as unknown as PhaseRecord);
        else if ((record.level ?? 0) >= 40) process.stderr.write(`${line}\n`);
      } catch {
        process.stderr.write(`${line}\n`);
      }
    }
    done();
  },
});

export const benchLogger = pino({ level: 'debug', base: { service: 'codecell-bench' } }, logSink);

export function recordsOf(sessionId: string): PhaseRecord[] {
  return phaseRecords.filter((record) => record.session === sessionId);
}
