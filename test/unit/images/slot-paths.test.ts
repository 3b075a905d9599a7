/**
 * The Node runner's slot-path mapping (images/node/lib/slot-paths.js) without Docker: a real slot
 * folder's path comes back as its logical path, anything else unchanged. In a real process sandbox
 * it is tested by test/executor/process-executor.test.ts.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const runnerRequire = createRequire(import.meta.url);
const { logicalMapper } = runnerRequire('../../../images/node/lib/slot-paths.js') as {
  logicalMapper(prefixes: Array<[string, string]>): (value: unknown) => unknown;
};

describe('slot path mapping', () => {
  const toLogical = logicalMapper([
    ['/data/slots/ab12/data', '/mnt/data'],
    ['/data/slots/ab12/tmp', '/tmp'],
  ]);

  it('maps a slot folder and paths beneath it to the logical path', () => {
    expect(toLogical('/data/slots/ab12/data')).toBe('/mnt/data');
    expect(toLogical('/data/slots/ab12/data/sub/people.csv')).toBe('/mnt/data/sub/people.csv');
    expect(toLogical('/data/slots/ab12/tmp/x')).toBe('/tmp/x');
  });

  it('leaves other paths, look-alike prefixes and non-strings alone', () => {
    expect(toLogical('/data/slots/ab12/database')).toBe('/data/slots/ab12/database');
    expect(toLogical('/data/slots/ab13/data/x')).toBe('/data/slots/ab13/data/x');
    expect(toLogical('/usr/lib')).toBe('/usr/lib');
    const buffer = Buffer.from('/data/slots/ab12/data');
    expect(toLogical(buffer)).toBe(buffer);
  });
});
