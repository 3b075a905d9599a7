/** The origin links are built from when no public URL is set: plain hosts only. */
import { describe, expect, it } from 'vitest';
import { requestOrigin } from '../../../src/interfaces/http/request-origin.js';

describe('requestOrigin', () => {
  it('joins scheme and host, keeping a port and dropping a default one', () => {
    expect(requestOrigin('http', '127.0.0.1:7860')).toBe('http://127.0.0.1:7860');
    expect(requestOrigin('https', 'Example.ORG:443')).toBe('https://example.org');
    expect(requestOrigin('http', '[::1]:8080')).toBe('http://[::1]:8080');
    expect(requestOrigin('https', 'codecell.example')).toBe('https://codecell.example');
  });

  it('gives no origin for a missing host, another scheme, or a host that is not plain host[:port]', () => {
    expect(requestOrigin('http', undefined)).toBeUndefined();
    expect(requestOrigin('ftp', 'example.org')).toBeUndefined();
    for (const host of ['evil.example/path?', 'a@b.example', 'example.org:99999x', 'exa mple.org', '', 'x'.repeat(300), 'example.org#frag']) {
      expect(requestOrigin('http', host), host).toBeUndefined();
    }
  });

  it('gives no origin when X-Forwarded-Host or X-Forwarded-Proto hold more than one entry', () => {
    // Express would take "evil.example", the entry the client wrote before the trusted proxy appended its own.
    expect(requestOrigin('http', 'evil.example', { host: 'evil.example, 127.0.0.1:7871' })).toBeUndefined();
    expect(requestOrigin('https', '127.0.0.1:7871', { proto: 'https, http' })).toBeUndefined();
    expect(requestOrigin('https', 'codecell.example', { host: 'codecell.example', proto: 'https' })).toBe('https://codecell.example');
  });
});
