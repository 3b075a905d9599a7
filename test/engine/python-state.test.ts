/**
 * Python state through the engine (real Docker, real images): what models write carries over to
 * the session's next run, and a value that cannot be carried is named in the run that made it,
 * while every other value stays.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecutionResult } from '../../src/engine/types.js';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;

beforeAll(async () => {
  t = await startTestEngine({ EXECUTION_TIMEOUT: '30' });
});

afterAll(async () => {
  await t?.close();
});

async function run(code: string, sessionId: string): Promise<ExecutionResult> {
  return t.engine.execute({ principal: t.principal, sessionId, language: 'python', code });
}

describe('python state through the engine', () => {
  it('carries cached functions, NamedTuples, enums and dataclasses; names the one value that cannot come back', async () => {
    const session = (await t.engine.createSession(t.principal)).id;
    const first = await run(
      [
        'import dataclasses, enum, functools, typing',
        '@functools.lru_cache(maxsize=None)',
        'def slow_square(n):',
        '    return n * n',
        'class Point(typing.NamedTuple):',
        '    x: int',
        '    y: int',
        'class Status(enum.Enum):',
        '    OPEN = "open"',
        '    DONE = "done"',
        '@dataclasses.dataclass(frozen=True)',
        'class Task:',
        '    title: str',
        '    status: Status = Status.OPEN',
        '    tags: tuple = ()',
        'class Fragile:',
        '    def __init__(self):',
        '        self.payload = 1',
        '    def __setstate__(self, state):',
        '        raise ValueError("no way back")',
        'fragile = Fragile()',
        'tasks = [Task("write", Status.DONE), Task("test")]',
        'origin = Point(0, 0)',
        'slow_square(12)',
      ].join('\n'),
      session,
    );
    expect(first.status, JSON.stringify(first.error)).toBe('ok');
    expect(first.value).toBe('144');
    expect(first.stateSaved).toBe(true);
    expect(first.notCarried).toEqual([
      { name: 'fragile', type: 'Fragile', reason: 'cannot be restored in the next run: ValueError: no way back' },
    ]);

    const second = await run(
      [
        'done = [t.title for t in tasks if t.status is Status.DONE]',
        'print(done, slow_square(9), origin._replace(x=3), isinstance(origin, Point), "fragile" in globals())',
      ].join('\n'),
      session,
    );
    expect(second.status, JSON.stringify(second.error)).toBe('ok');
    expect(second.notCarried).toEqual([]);
    expect(second.stdout.text).toBe("['write'] 81 Point(x=3, y=0) True False\n");
  });
});
