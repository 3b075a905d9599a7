/** Structured JSON logs (pino) to stderr, so stdout stays free for `codecell serve --stdio`. */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'codecell' } }, pino.destination(2));
}
