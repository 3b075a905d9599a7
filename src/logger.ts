/**
 * Logs (pino) to stderr, so stdout stays free for `codecell serve --stdio`: structured JSON, or
 * for a person at a terminal readable lines (pino-pretty, written synchronously in this process).
 */
import { pino, type Logger } from 'pino';
import { default as pretty } from 'pino-pretty';

export type { Logger };

export interface LoggerOptions {
  /** Readable lines instead of JSON (for a terminal). */
  readonly pretty?: boolean;
}

export function createLogger(level: string, options: LoggerOptions = {}): Logger {
  const base = { level, base: { service: 'codecell' } };
  if (options.pretty === true) {
    return pino(base, pretty({ destination: 2, sync: true, colorize: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname,service' }));
  }
  return pino(base, pino.destination(2));
}

/** Whether `serve` talks to a person: stdout and stderr are both terminals. */
export function onTerminal(streams: { readonly stdout: { isTTY?: boolean }; readonly stderr: { isTTY?: boolean } } = process): boolean {
  return streams.stdout.isTTY === true && streams.stderr.isTTY === true;
}

/** The line that tells a person where the playground is; a wildcard address becomes loopback. */
export function playgroundLine(serverUrl: string): string {
  const url = new URL(serverUrl);
  if (url.hostname === '0.0.0.0') url.hostname = '127.0.0.1';
  if (url.hostname === '[::]') url.hostname = '[::1]';
  return `open ${url.origin}/ for the playground`;
}
