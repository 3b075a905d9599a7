/**
 * What a JavaScript session holding one big Float64Array costs per run in the Node runner's
 * snapshot code: restoring it (images/node/lib/snapshot/state.js restoreState) and saving it again
 * (saveState), for 1, 10 and 100 MB, inside the execution image with the image's own Node and code.
 *
 *   npm run build && node dist/scripts/bench-js-state.js [image …]
 *
 * Each image named (default: ${CODECELL_IMAGE_PREFIX:-codecell}-node:latest) is measured in the same
 * run, one after the other, so an A/B of two builds (say `codecell-node:latest` from main against a
 * branch's image) gives ratios from one run. Each sample is a fresh Node process, as each run is a
 * fresh runner: it restores the session's state file from a host directory (mounted as the host
 * mounts /run/codecell/in) and saves it to another (as /run/codecell/out), and reports both times
 * measured around those two calls, and the CPU time the process spent in them (on a busy machine the
 * wall time also counts waiting for a core). The state file is made once per size by the same image.
 * Knobs: BENCH_JS_SIZES_MB (default 1,10,100), BENCH_SAMPLES (default 5).
 * On a shared machine the absolute figures are noisy: compare ratios from one run.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const SIZES_MB = (process.env.BENCH_JS_SIZES_MB ?? '1,10,100').split(',').map(Number);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 5);
const DEFAULT_IMAGE = `${process.env.CODECELL_IMAGE_PREFIX ?? 'codecell'}-node:latest`;

/**
 * Runs in the container (Node 18, CommonJS): `make MB` saves a Float64Array of MB megabytes to
 * /bench/in/state; `sample` restores it and saves it to /bench/out and prints the two times.
 */
const SAMPLE_SCRIPT = `
const { performance } = require('perf_hooks');
const lib = '/opt/codecell/lib/snapshot';
const { saveState, restoreState, NotCarriedList } = require(lib + '/state');
const { collectIntrinsics, ModuleLog } = require(lib + '/known');
const { SourceProvenance } = require(lib + '/provenance');
const known = { intrinsics: collectIntrinsics(), modules: new ModuleLog(require.resolve), provenance: new SourceProvenance() };
const notCarried = new NotCarriedList();
const [mode, megabytes] = process.argv.slice(1); // node -e: argv[1] is the first argument
function save(value, outDir) {
  const saved = saveState({ bindings: [{ name: 'big', value }], known, outDir, notCarried });
  if (!saved.stateSaved) throw new Error(saved.stateError);
}
if (mode === 'make') {
  const big = new Float64Array(Number(megabytes) * 131072);
  for (let i = 0; i < big.length; i++) big[i] = Math.random();
  save(big, '/bench/in');
} else {
  const restored = {};
  const cpuBegan = process.cpuUsage();
  const began = performance.now();
  restoreState({ file: '/bench/in/state', requireModule: require, provenance: known.provenance, notCarried,
    define: (name, value) => { restored[name] = value; } });
  const between = performance.now();
  save(restored.big, '/bench/out');
  const ended = performance.now();
  const cpu = process.cpuUsage(cpuBegan);
  if (!(restored.big instanceof Float64Array) || notCarried.toJSON().length > 0) throw new Error('the state did not round-trip');
  const { size } = require('fs').statSync('/bench/out/state');
  console.log(JSON.stringify({ restoreMs: between - began, saveMs: ended - between, cpuMs: (cpu.user + cpu.system) / 1000, fileBytes: size }));
}
`;

interface Sample {
  restoreMs: number;
  saveMs: number;
  /** CPU time (user + system) of restore + save: what a busy machine's waiting leaves out. */
  cpuMs: number;
  fileBytes: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? NaN) : ((sorted[middle - 1] ?? NaN) + (sorted[middle] ?? NaN)) / 2;
}

function writableDir(parent: string, name: string): string {
  const dir = path.join(parent, name);
  execFileSync('mkdir', ['-p', dir]);
  chmodSync(dir, 0o777);
  return dir;
}

function inImage(image: string, scratch: string, args: string[]): string {
  return execFileSync(
    'docker',
    [
      'run', '--rm', '--network', 'none', '--read-only', '--user', '10001', '--entrypoint', 'node',
      '-v', `${writableDir(scratch, 'in')}:/bench/in`, '-v', `${writableDir(scratch, 'out')}:/bench/out`,
      image, '-e', SAMPLE_SCRIPT, '--', ...args,
    ],
    { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 },
  );
}

/** All samples of one image and size, in one container (a fresh Node process per sample). */
function measure(image: string, megabytes: number): Sample[] {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'codecell-bench-js-state-'));
  chmodSync(scratch, 0o777);
  try {
    inImage(image, scratch, ['make', String(megabytes)]);
    const samples: Sample[] = [];
    for (let i = 0; i < SAMPLES; i++) samples.push(JSON.parse(inImage(image, scratch, ['sample']).trim()) as Sample);
    return samples;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function main(): void {
  const images = process.argv.slice(2).length > 0 ? process.argv.slice(2) : [DEFAULT_IMAGE];
  const lines = [
    `JS state: restore + save of one Float64Array in the Node runner (median of ${SAMPLES} fresh processes each)`,
    '',
    '| size | image | restore ms | save ms | restore + save ms | its CPU ms | state file MB | first image ÷ this (wall, CPU) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const megabytes of SIZES_MB) {
    let baseline: number | undefined;
    let cpuBaseline: number | undefined;
    for (const image of images) {
      const samples = measure(image, megabytes);
      const restore = median(samples.map((sample) => sample.restoreMs));
      const save = median(samples.map((sample) => sample.saveMs));
      const both = median(samples.map((sample) => sample.restoreMs + sample.saveMs));
      const cpu = median(samples.map((sample) => sample.cpuMs));
      baseline ??= both;
      cpuBaseline ??= cpu;
      const fileMb = (samples[0]?.fileBytes ?? NaN) / 1_048_576;
      lines.push(
        `| ${megabytes} MB | ${image} | ${restore.toFixed(1)} | ${save.toFixed(1)} | ${both.toFixed(1)} | ${cpu.toFixed(1)} | ` +
          `${fileMb.toFixed(2)} | ${(baseline / both).toFixed(2)}, ${(cpuBaseline / cpu).toFixed(2)} |`,
      );
    }
  }
  console.log(lines.join('\n'));
}

main();
