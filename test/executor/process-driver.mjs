// Drives a real ProcessExecutor inside a container that plays a Space (test/executor/process-executor.test.ts):
// each POST to 127.0.0.1:$DRIVER_PORT carries one JSON command and gets one JSON answer. Runs the compiled server code (dist/).
// It holds what an attacker wants: a secret in its environment, a signing key in the data dir, a loopback listener.
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const dist = process.argv[2];
const { loadSettings } = await import(`${dist}/src/config/settings.js`);
const { createLogger } = await import(`${dist}/src/logger.js`);
const { Metrics } = await import(`${dist}/src/metrics/metrics.js`);
const { DiskBudget } = await import(`${dist}/src/files/disk-budget.js`);
const { ProcessExecutor } = await import(`${dist}/src/executor/process/process-executor.js`);

// In the image user's home: the data dir of a Space without a bucket.
const dataDir = process.env.DRIVER_DATA_DIR ?? path.join(os.homedir(), 'codecell-test-data');
mkdirSync(dataDir, { recursive: true, mode: 0o700 });
writeFileSync(path.join(dataDir, 'signing.key'), 'the-signing-key-0123456789abcdef', { mode: 0o600 });
const settings = loadSettings({}, {
  LOG_LEVEL: 'silent', CODECELL_DATA_DIR: dataDir, CODECELL_MEMORY_MB: '256', CODECELL_PIDS_LIMIT: '64',
  CODECELL_POOL_PYTHON: '0', CODECELL_POOL_PYTHON_LEAN: '1', CODECELL_POOL_NODE: '1', CODECELL_POOL_BASH: '1',
  ...(process.env.DRIVER_SETTINGS ? JSON.parse(process.env.DRIVER_SETTINGS) : {}),
});
const metrics = new Metrics({ collectProcessMetrics: false });
const budget = new DiskBudget({ roots: [path.join(dataDir, 'sessions')], limitBytes: settings.limits.diskBudgetBytes });
const executor = await ProcessExecutor.create(settings, createLogger(process.env.DRIVER_LOG ?? 'silent'), metrics, budget);
await executor.start(() => null);

const listener = createServer((socket) => socket.end('loopback-secret\n'));
await new Promise((resolve) => listener.listen(0, '127.0.0.1', resolve));

const POOLS = { python: 'python-lean', javascript: 'node', bash: 'bash' };
const RUNTIMES = { python: 'python', javascript: 'node', bash: 'bash' };

function places(session) {
  const root = path.join(dataDir, 'sessions', session);
  const filesDir = path.join(root, 'files');
  const homeDir = path.join(root, 'home');
  const stateDir = path.join(root, 'state');
  mkdirSync(filesDir, { recursive: true });
  mkdirSync(homeDir, { recursive: true });
  mkdirSync(stateDir, { recursive: true });
  return { root, filesDir, homeDir, stateDir };
}

async function run(command) {
  const { filesDir, homeDir, stateDir } = places(command.session);
  const { result, inspected: files, settled } = await executor.run(
    {
      pool: command.pool ?? POOLS[command.language],
      sessionId: command.session,
      filesDir,
      homeDir,
      stateFile: path.join(stateDir, `state-${RUNTIMES[command.language]}`),
      stateDir,
      code: command.code,
      sourceLanguage: command.language,
      args: command.args ?? [],
      timeoutMs: command.timeoutMs ?? 20_000,
      maxImages: 10,
    },
    async (_result, runFilesDir) => readdirSync(runFilesDir).sort(),
  );
  await settled;
  return {
    status: result.status,
    stdout: result.stdout.text,
    stderr: result.stderr.text,
    value: result.frame?.value ?? null,
    error: result.frame?.error ?? null,
    images: result.frame?.images.length ?? 0,
    notice: result.notice,
    warm: result.warm,
    durationMs: result.durationMs,
    files,
  };
}

async function handle(command) {
  switch (command.op) {
    case 'info':
      return { sandbox: executor.sandbox, pid: process.pid, uid: process.getuid(), port: listener.address().port, dataDir };
    case 'write': {
      const { filesDir } = places(command.session);
      writeFileSync(path.join(filesDir, command.name), command.content);
      return { written: command.name };
    }
    case 'run':
      return run(command);
    case 'pools':
      return executor.poolSizes();
    case 'health':
      return executor.health();
    case 'system':
      return executor.systemInfo();
    case 'alive':
      return { alive: true, pid: process.pid };
    default:
      throw new Error(`unknown op ${command.op}`);
  }
}

const driver = createHttpServer((request, response) => {
  const parts = [];
  request.on('data', (part) => parts.push(part));
  request.on('end', async () => {
    const command = JSON.parse(Buffer.concat(parts).toString('utf8'));
    let body;
    try {
      body = { ok: true, answer: await handle(command) };
    } catch (error) {
      body = { ok: false, error: String(error?.stack ?? error) };
    }
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
});
driver.requestTimeout = 0;
await new Promise((resolve) => driver.listen(Number(process.env.DRIVER_PORT), '127.0.0.1', resolve));
console.log('driver listening');
process.once('SIGTERM', async () => {
  driver.close();
  listener.close();
  await executor.shutdown();
  process.exit(0);
});
