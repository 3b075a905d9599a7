/**
 * The metrics-only key: matched in constant time from Bearer or X-API-Key, never from Basic or the
 * query string, and never when none is configured; its settings (inline or a file, not both, never
 * equal to an API key).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Request } from 'express';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSettings, SettingsError } from '../../../src/config/settings.js';
import { offersMetricsKey } from '../../../src/interfaces/http/auth.js';

/** The one part of a request the check reads: its headers. */
function requestWith(headers: Record<string, string>): Request {
  const lower = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
  return { get: (name: string) => lower[name.toLowerCase()] } as unknown as Request;
}

const KEYS = ['metrics-key-one-0123456789', 'metrics-key-two-0123456789'];

describe('offersMetricsKey', () => {
  const admits = offersMetricsKey(KEYS);

  it('admits each configured key as a Bearer token or X-API-Key', () => {
    expect(admits(requestWith({ authorization: `Bearer ${KEYS[0]}` }))).toBe(true);
    expect(admits(requestWith({ authorization: `bearer ${KEYS[1]}` }))).toBe(true);
    expect(admits(requestWith({ 'x-api-key': KEYS[1] ?? '' }))).toBe(true);
  });

  it('refuses other values, prefixes and extensions of a key, and a key sent as Basic', () => {
    expect(admits(requestWith({}))).toBe(false);
    expect(admits(requestWith({ authorization: 'Bearer metrics-key-one' }))).toBe(false);
    expect(admits(requestWith({ authorization: `Bearer ${KEYS[0]}x` }))).toBe(false);
    expect(admits(requestWith({ authorization: `Basic ${Buffer.from(`${KEYS[0]}:`).toString('base64')}` }))).toBe(false);
    expect(admits(requestWith({ 'x-api-key': '' }))).toBe(false);
  });

  it('admits nothing when no metrics key is configured', () => {
    expect(offersMetricsKey([])(requestWith({ authorization: 'Bearer ' }))).toBe(false);
    expect(offersMetricsKey([])(requestWith({ 'x-api-key': 'anything' }))).toBe(false);
  });
});

describe('metrics key settings', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'codecell-metrics-key-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const load = (env: Record<string, string>) => loadSettings({}, { CODECELL_DATA_DIR: dir, ...env });

  it('reads comma-separated keys inline', () => {
    expect(load({ CODECELL_METRICS_KEYS: ' a-key , b-key ,' }).metricsKeys).toEqual(['a-key', 'b-key']);
    expect(load({}).metricsKeys).toEqual([]);
  });

  it('reads keys from a file, one per line or comma-separated', () => {
    const file = path.join(dir, 'metrics.key');
    writeFileSync(file, 'first-key\nsecond-key, third-key\n\n');
    expect(load({ CODECELL_METRICS_KEYS_FILE: file }).metricsKeys).toEqual(['first-key', 'second-key', 'third-key']);
  });

  it('treats an empty CODECELL_METRICS_KEYS_FILE as unset (compose passes one when .env leaves it out)', () => {
    expect(load({ CODECELL_METRICS_KEYS_FILE: '' }).metricsKeys).toEqual([]);
    expect(load({ CODECELL_METRICS_KEYS_FILE: '  ', CODECELL_METRICS_KEYS: 'inline-key' }).metricsKeys).toEqual(['inline-key']);
  });

  it('refuses an unreadable or empty file, both settings at once, and a key that is also an API key', () => {
    const empty = path.join(dir, 'empty.key');
    writeFileSync(empty, '\n');
    expect(() => load({ CODECELL_METRICS_KEYS_FILE: path.join(dir, 'missing.key') })).toThrow(/CODECELL_METRICS_KEYS_FILE .* cannot be read/);
    expect(() => load({ CODECELL_METRICS_KEYS_FILE: empty })).toThrow(/holds no key/);
    expect(() => load({ CODECELL_METRICS_KEYS: 'x-key', CODECELL_METRICS_KEYS_FILE: empty })).toThrow(/not both/);
    expect(() => load({ CODECELL_API_KEYS: 'shared-key', CODECELL_METRICS_KEYS: 'shared-key' })).toThrow(SettingsError);
  });
});
