/** How a caller's session id argument names its default session, the same on MCP and HTTP. */
import { describe, expect, it } from 'vitest';
import { sessionIdFrom } from '../../../src/interfaces/session-word.js';

describe('sessionIdFrom', () => {
  it('reads nothing, blanks and the word "default" as the default session', () => {
    for (const value of [undefined, '', '   ', 'default', ' default ']) expect(sessionIdFrom(value), JSON.stringify(value)).toBeUndefined();
  });

  it('passes any other id on, trimmed, for the session store to judge', () => {
    expect(sessionIdFrom(' 2f1c ')).toBe('2f1c');
    expect(sessionIdFrom('Default')).toBe('Default');
    expect(sessionIdFrom('default2')).toBe('default2');
  });
});
