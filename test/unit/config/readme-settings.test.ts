/**
 * The README's settings table and src/config/settings.ts describe the same settings: every name in
 * both, each once, and every default the table writes as a value is the default the code uses
 * (setting a variable to its documented default changes nothing).
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSettings, SETTING_NAMES } from '../../../src/config/settings.js';

const README = readFileSync(path.join(import.meta.dirname, '../../../README.md'), 'utf8');

interface Row {
  readonly names: string[];
  /** The values the default column writes in backticks; empty when it describes the default in words. */
  readonly defaults: string[];
}

function settingsTable(markdown: string): Row[] {
  const section = /^## Settings\n([\s\S]*?)^## /m.exec(markdown)?.[1];
  if (section === undefined) throw new Error('README has no "## Settings" section');
  return section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => {
      const [names = '', defaults = ''] = line.split(' | ');
      return { names: backticked(names), defaults: backticked(defaults) };
    });
}

function backticked(cell: string): string[] {
  return [...cell.matchAll(/`([^`]*)`/g)].map((match) => match[1] ?? '');
}

/** The README writes the home directory as `~`, like a shell. */
function expandHome(value: string): string {
  return value.startsWith('~/') ? path.join(os.homedir(), value.slice(2)) : value;
}

const rows = settingsTable(README);

describe('README settings table', () => {
  it('lists every setting the code reads, each once, and nothing else', () => {
    const documented = rows.flatMap((row) => row.names);
    expect(new Set(documented).size).toBe(documented.length);
    expect([...documented].sort()).toEqual([...SETTING_NAMES].sort());
  });

  it('gives one default per name where it writes defaults as values', () => {
    for (const row of rows) {
      if (row.defaults.length > 0) expect(row.defaults, row.names.join(', ')).toHaveLength(row.names.length);
    }
  });

  it('writes the defaults the code uses', () => {
    const defaults = loadSettings({}, {});
    const pairs = rows.flatMap((row) => row.defaults.map((value, index) => [row.names[index] ?? '', value] as const));
    expect(pairs.length).toBeGreaterThan(20);
    for (const [name, value] of pairs) {
      expect(loadSettings({}, { [name]: expandHome(value) }), `${name} = ${value}`).toEqual(defaults);
    }
  });
});
