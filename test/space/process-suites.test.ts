/**
 * The harness: the engine, MCP, files and LibreChat Code API suites (test/space/vitest.process.config.ts)
 * run on the process executor inside a container of the Space image, started as the Space starts it,
 * with this repository mounted read-only at /repo. One test here stands for the whole inner run: it
 * fails with the names of the inner tests that failed, and says how many passed.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSpaceImage, SPACE_RUN_FLAGS, SPACE_SERVER_NODE as SERVER_NODE } from '../../scripts/space/space-image.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
/** CODECELL_PROCESS_SUITE_FILES="test/engine/a.test.ts test/files-e2e/b.test.ts" narrows the inner run to those files. */
const ONLY_FILES = (process.env.CODECELL_PROCESS_SUITE_FILES ?? '').split(/\s+/).filter((file) => file !== '');

interface InnerReport {
  numTotalTests: number;
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  testResults: { name: string; status: string; message?: string; assertionResults: { fullName: string; status: string; failureMessages: string[] }[] }[];
}

/** Runs a command in a fresh container of the Space image; resolves with its exit code and output tail. */
function runInSpace(image: string, mounts: string[], command: string[]): Promise<{ code: number | null; output: string }> {
  const args = ['run', '--rm', ...SPACE_RUN_FLAGS, ...mounts.flatMap((mount) => ['-v', mount]), '-w', '/repo', image, ...command];
  return new Promise((resolve, reject) => {
    const child = spawn('docker', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    // Kept for the failure message, and passed on as it comes so a long inner run shows its progress.
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-20_000);
      process.stderr.write(chunk);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('the suites on the process executor, inside the Space image', () => {
  let image: string;
  let reportDir: string;

  beforeAll(async () => {
    image = await buildSpaceImage();
    reportDir = mkdtempSync(path.join(os.tmpdir(), 'codecell-harness-'));
    chmodSync(reportDir, 0o777); // written by uid 1000 inside
  }, 1_800_000);

  afterAll(() => {
    if (reportDir) rmSync(reportDir, { recursive: true, force: true });
  });

  it('runs vitest there on this repository’s node_modules, as uid 1000 without capabilities', async () => {
    const { code, output } = await runInSpace(image, [`${ROOT}:/repo:ro`], [
      SERVER_NODE,
      '-e',
      "const sharp = require('sharp'); const { execSync } = require('node:child_process'); console.log(JSON.stringify({ uid: process.getuid(), sharp: typeof sharp, caps: execSync('grep CapEff /proc/self/status').toString().trim(), nnp: execSync('grep NoNewPrivs /proc/self/status').toString().trim(), vitest: require('./node_modules/vitest/package.json').version }))",
    ]);
    expect(code, output).toBe(0);
    const facts = JSON.parse(output.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
    expect(facts).toMatchObject({ uid: 1000, sharp: 'function', caps: 'CapEff:\t0000000000000000', nnp: 'NoNewPrivs:\t1' });
    expect(facts.vitest).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('passes the engine, MCP, files and LibreChat Code API suites', async () => {
    const { code, output } = await runInSpace(image, [`${ROOT}:/repo:ro`, `${reportDir}:/report`], [
      SERVER_NODE,
      'node_modules/vitest/vitest.mjs',
      'run',
      '--config',
      'test/space/vitest.process.config.ts',
      '--configLoader',
      'runner',
      '--reporter',
      'dot',
      '--reporter',
      'json',
      '--outputFile.json',
      '/report/report.json',
      ...ONLY_FILES,
    ]);
    let report: InnerReport;
    try {
      report = JSON.parse(readFileSync(path.join(reportDir, 'report.json'), 'utf8')) as InnerReport;
    } catch {
      throw new Error(`the inner run wrote no report (exit ${code}):\n${output}`);
    }
    const relative = (file: string): string => path.relative('/repo', file);
    // A file fails as a whole when a hook fails (its tests are then reported as skipped): name those too.
    const failed = report.testResults.flatMap((file) => [
      ...(file.status === 'failed' && file.assertionResults.every((test) => test.status !== 'failed')
        ? [`${relative(file.name)}: ${(file.message || 'a hook failed').split('\n')[0]}`]
        : []),
      ...file.assertionResults
        .filter((test) => test.status === 'failed')
        .map((test) => `${relative(file.name)} > ${test.fullName}: ${(test.failureMessages[0] ?? '').split('\n')[0]}`),
    ]);
    console.info(
      `process harness: ${report.numPassedTests} passed, ${report.numFailedTests} failed, ${report.numPendingTests} skipped, of ${report.numTotalTests} in ${report.testResults.length} files`,
    );
    expect(failed, output.slice(-4000)).toEqual([]);
    // The suites skip nothing by themselves: a skipped test here is one that never ran.
    expect(report.numPendingTests).toBe(0);
    expect(report.numPassedTests).toBe(report.numTotalTests);
    expect(report.numTotalTests).toBeGreaterThan(ONLY_FILES.length > 0 ? 0 : 100);
    expect(code).toBe(0);
  }, 3_600_000);
});
