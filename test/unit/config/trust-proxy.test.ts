/** CODECELL_TRUST_PROXY: which proxies' X-Forwarded-* headers are believed. */
import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../../src/config/settings.js';
import { parseTrustProxy } from '../../../src/config/trust-proxy.js';

describe('parseTrustProxy', () => {
  it('trusts nobody when unset, empty or false', () => {
    expect(parseTrustProxy(undefined)).toBe(false);
    expect(parseTrustProxy('  ')).toBe(false);
    expect(parseTrustProxy('false')).toBe(false);
  });

  it('takes a hop count, addresses, subnets and the named ranges', () => {
    expect(parseTrustProxy('1')).toBe(1);
    expect(parseTrustProxy('loopback, 10.0.0.0/8,fd00::/8, 172.17.0.1')).toEqual(['loopback', '10.0.0.0/8', 'fd00::/8', '172.17.0.1']);
  });

  it('refuses "true", hop counts out of range, names and bad subnets', () => {
    expect(parseTrustProxy('true')).toEqual({ problem: expect.stringContaining('would trust any client') });
    expect(parseTrustProxy('0')).toEqual({ problem: 'a number of proxy hops must be 1 to 10' });
    expect(parseTrustProxy('proxy.example')).toEqual({ problem: expect.stringContaining('"proxy.example" is not an IP address') });
    expect(parseTrustProxy('10.0.0.0/33')).toEqual({ problem: '"10.0.0.0/33" has a bad prefix length' });
    expect(parseTrustProxy('10.0.0.0/8/1')).toEqual({ problem: expect.stringContaining('is not an IP address') });
  });

  it('is a setting: a bad value stops start-up with the reason', () => {
    expect(loadSettings({}, { CODECELL_TRUST_PROXY: 'loopback' }).trustProxy).toEqual(['loopback']);
    expect(loadSettings({}, {}).trustProxy).toBe(false);
    expect(() => loadSettings({}, { CODECELL_TRUST_PROXY: 'true' })).toThrow(/CODECELL_TRUST_PROXY.*would trust any client/s);
  });
});
