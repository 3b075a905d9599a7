import { describe, expect, it } from 'vitest';
import { FrameScanner, type FrameLimits } from '../../../src/executor/frame-scanner.js';

const NONCE = 'abc123';
const LIMITS: FrameLimits = { maxBytes: 1024 * 1024, maxStructure: 100 };

function scan(chunks: readonly (string | Buffer)[], limits: FrameLimits = LIMITS) {
  const frames: string[] = [];
  const refused: string[] = [];
  let text = '';
  const scanner = new FrameScanner(NONCE, limits, {
    onText: (bytes) => (text += bytes.toString('utf8')),
    onFrame: (json) => frames.push(json),
    onOversizedFrame: (what) => refused.push(what),
  });
  for (const chunk of chunks) scanner.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
  scanner.flush();
  return { frames, refused, text };
}

const frame = (json: string) => `\x1e${NONCE}\x1f${json}\n`;

describe('FrameScanner', () => {
  it('splits output and frames, across chunk boundaries', () => {
    const whole = `hello ${frame('{"a":[1,2]}')}bye`;
    const out = scan(whole.split(''));
    expect(out.frames).toEqual(['{"a":[1,2]}']);
    expect(out.text).toBe('hello bye');
    expect(out.refused).toEqual([]);
  });

  it('refuses a frame of more JSON values than allowed, before it ends', () => {
    const out = scan([frame(`[${'{},'.repeat(200)}{}]`)]);
    expect(out.frames).toEqual([]);
    expect(out.refused).toEqual(['over 100 JSON values']);
  });

  it('does not count braces, brackets, commas and colons inside strings, escaped quotes included', () => {
    const inside = '{[,:]}\\"{[,:'.repeat(200);
    const json = `{"value":"${inside}","images":[{"name":"a.png","base64":"${'A'.repeat(100_000)}"}]}`;
    // Split mid-escape and mid-string: the counter's state carries over.
    const whole = frame(json);
    const out = scan([whole.slice(0, 30), whole.slice(30, 31), whole.slice(31, 5000), whole.slice(5000)]);
    expect(out.refused).toEqual([]);
    expect(out.frames).toEqual([json]);
    expect(JSON.parse(out.frames[0]!)).toMatchObject({ value: expect.stringContaining('{[,:') });
  });

  it('counts each frame afresh', () => {
    const json = `[${'1,'.repeat(60)}1]`;
    const out = scan([frame(json), frame(json)]);
    expect(out.frames).toEqual([json, json]);
    expect(out.refused).toEqual([]);
  });

  it('refuses a frame over the byte cap and keeps no more than the cap', () => {
    const out = scan([frame(`"${'A'.repeat(2 * 1024 * 1024)}"`)]);
    expect(out.frames).toEqual([]);
    expect(out.refused).toEqual([`over ${LIMITS.maxBytes} bytes`]);
  });

  it('takes ten thousand notCarried entries, the most a runner sends', () => {
    const entries = Array.from({ length: 10_000 }, (_, index) => ({ name: `v${index}`, type: 'generator', reason: 'cannot be pickled: a, b: c' }));
    const json = JSON.stringify({ type: 'result', notCarried: entries, images: [], loadedModules: ['numpy'] });
    const out = scan([frame(json)], { maxBytes: 64 * 1024 * 1024, maxStructure: 10_000 * 8 + 20_000 });
    expect(out.refused).toEqual([]);
    expect(out.frames).toEqual([json]);
  });
});
