/** An open (keyless) server stays on loopback unless the operator explicitly allows otherwise. */
import { describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../../src/logger.js';
import { enforceListenPolicy, isLoopbackHost, ListenPolicyError } from '../../../src/interfaces/http/listen-policy.js';

describe('enforceListenPolicy', () => {
  it('recognises loopback hosts', () => {
    for (const host of ['127.0.0.1', 'localhost', '::1', '127.0.0.53']) expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '192.168.1.5', 'example.com']) expect(isLoopbackHost(host), host).toBe(false);
  });

  it('refuses a keyless server on a public address', () => {
    expect(() => enforceListenPolicy({ host: '0.0.0.0', apiKeys: [], allowOpen: false }, createLogger('silent'))).toThrow(
      ListenPolicyError,
    );
  });

  it('allows it with CODECELL_ALLOW_OPEN, loudly', () => {
    const logger = createLogger('silent');
    const warn = vi.spyOn(logger, 'warn');
    enforceListenPolicy({ host: '0.0.0.0', apiKeys: [], allowOpen: true }, logger);
    expect(warn).toHaveBeenCalledWith(expect.anything(), expect.stringContaining('OPEN SERVER'));
  });

  it('allows any address with keys, and loopback without', () => {
    const logger = createLogger('silent');
    expect(() => enforceListenPolicy({ host: '0.0.0.0', apiKeys: ['k'], allowOpen: false }, logger)).not.toThrow();
    expect(() => enforceListenPolicy({ host: '127.0.0.1', apiKeys: [], allowOpen: false }, logger)).not.toThrow();
  });
});
