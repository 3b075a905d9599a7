/** Pure parts of logging for a person: when it applies and the playground line. */
import { describe, expect, it } from 'vitest';
import { onTerminal, playgroundLine } from '../../../src/logger.js';

describe('onTerminal', () => {
  it('is true only when stdout and stderr are both terminals', () => {
    expect(onTerminal({ stdout: { isTTY: true }, stderr: { isTTY: true } })).toBe(true);
    expect(onTerminal({ stdout: {}, stderr: { isTTY: true } })).toBe(false);
    expect(onTerminal({ stdout: { isTTY: true }, stderr: {} })).toBe(false);
  });
});

describe('playgroundLine', () => {
  it('names the server address, with loopback for a wildcard bind', () => {
    expect(playgroundLine('http://127.0.0.1:7860')).toBe('open http://127.0.0.1:7860/ for the playground');
    expect(playgroundLine('http://0.0.0.0:8080')).toBe('open http://127.0.0.1:8080/ for the playground');
    expect(playgroundLine('http://[::]:7860')).toBe('open http://[::1]:7860/ for the playground');
    expect(playgroundLine('http://192.168.1.5:7860')).toBe('open http://192.168.1.5:7860/ for the playground');
  });
});
