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
});
