import { describe, expect, it } from 'vitest';
import { formatBytes } from '../../../src/files/byte-size.js';

describe('formatBytes', () => {
  it('writes 1024-based sizes in IEC units', () => {
    expect(formatBytes(0)).toBe('0 bytes');
    expect(formatBytes(1)).toBe('1 byte');
    expect(formatBytes(1023)).toBe('1023 bytes');
    expect(formatBytes(1024)).toBe('1 KiB');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(2048)).toBe('2 KiB');
    expect(formatBytes(25 * 1024 * 1024)).toBe('25 MiB');
    expect(formatBytes(16 * 1024 ** 3)).toBe('16 GiB');
    expect(formatBytes(3 * 1024 ** 4)).toBe('3 TiB');
  });

  it('shows one decimal below 10 and none above', () => {
    expect(formatBytes(Math.round(9.94 * 1024))).toBe('9.9 KiB');
    expect(formatBytes(Math.round(123.4 * 1024 * 1024))).toBe('123 MiB');
  });
});
