/**
 * Cancellation and waiting, attacked through MCP: a cancelled call must not free its session or its
 * queue slot while its container still runs, closing a session must kill its run and leave nothing
 * on disk, calls waiting for a busy session count against CODECELL_QUEUE_LIMIT, and a client that
 * closes its request stops its call.
 *
 * The victims run bash, whose pool is empty here: each of their runs starts its own container, so
 * Docker's start and die events show exactly when they hold one. The calls that check what the
 * victims left behind run Python, from a warm pool, so they start at once.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSse, connectStreamable, headersFor } from '../interfaces/helpers/mcp-client.js';
import { docker, eventually, instanceIdOf } from './helpers/docker.js';
import { Harness, random } from './helpers/harness.js';
import { CONTAINER_LABEL, INSTANCE_LABEL, POOL_LABEL } from '../../src/executor/docker/container-spec.js';

const CONCURRENCY = 2;
const QUEUE_LIMIT = 3;
/** Polls of 100 ms each while waiting for the server to reach a state (slow runtimes need many). */
const PATIENCE = 1200;

let h: Harness;

beforeAll(async () => {
  h = await Harness.start({
    pools: { python: 0, pythonLean: 1, node: 0, bash: 0 },
    // Fixed pools (CODECELL_POOL_MAX=0): demand-sized pools start ready containers of their own, bounded
    // by the pool's memory budget rather than the queue; here every container seen is a call's own.
    env: { CODECELL_CONCURRENCY: String(CONCURRENCY), CODECELL_QUEUE_LIMIT: String(QUEUE_LIMIT), CODECELL_POOL_MAX: '0' },
  });
});

afterAll(async () => {
  await h?.close();
});

/** A bash program that says it runs, then waits to be stopped. */
const SLEEPER = 'echo started\nsleep 600';

/** Bash containers only: the victims' (the bash pool is empty, so each is one run's). */
const VICTIM_LABELS = (): string[] => [
  `${CONTAINER_LABEL}=true`,
  `${INSTANCE_LABEL}=${instanceIdOf(h.server)}`,
  `${POOL_LABEL}=bash`,
];

interface QueueReport {
  readonly running: number;
  readonly waiting: number;
}

/** What /healthz tells a caller with a key about the queue. */
async function queueNow(): Promise<QueueReport> {
  const response = await fetch(`${h.server.url}/healthz`, { headers: headersFor() });
  const report = (await response.json()) as { queue?: QueueReport };
  if (report.queue === undefined) throw new Error(`/healthz gave no queue: ${JSON.stringify(report)}`);
  return report.queue;
}

async function queueBecomes(predicate: (queue: QueueReport) => boolean): Promise<QueueReport> {
  return eventually(queueNow, predicate, PATIENCE);
}

function sessionDir(session: string): string {
  return path.join(h.server.dataDir, 'sessions', session);
}

/** Docker's own record of when this server's containers started and died, in the daemon's order. */
class ContainerLifetimes {
  private readonly events: Array<{ id: string; kind: 'start' | 'die' }> = [];
  private stream: NodeJS.ReadableStream | null = null;
  private buffered = '';

  async listen(): Promise<void> {
    this.stream = await docker.getEvents({
      filters: {
        type: ['container'],
        event: ['start', 'die'],
        label: VICTIM_LABELS(),
      },
    });
    this.stream.on('data', (chunk: Buffer) => {
      this.buffered += chunk.toString('utf8');
      const lines = this.buffered.split('\n');
      this.buffered = lines.pop() ?? '';
      for (const line of lines.filter((text) => text.trim().length > 0)) {
        const event = JSON.parse(line) as { id: string; status?: string; Action?: string };
        const kind = event.Action ?? event.status;
        if (kind === 'start' || kind === 'die') this.events.push({ id: event.id, kind });
      }
    });
  }

  get started(): number {
    return this.events.filter((event) => event.kind === 'start').length;
  }

  /** True once every container that started has died too. */
  get allDead(): boolean {
    const alive = new Set<string>();
    for (const event of this.events) {
      if (event.kind === 'start') alive.add(event.id);
      else alive.delete(event.id);
    }
    return alive.size === 0;
  }

  /** The most containers alive at one time. */
  get mostAlive(): number {
    const alive = new Set<string>();
    let most = 0;
    for (const event of this.events) {
      if (event.kind === 'start') alive.add(event.id);
      else alive.delete(event.id);
      most = Math.max(most, alive.size);
    }
    return most;
  }

  stop(): void {
    (this.stream as (NodeJS.ReadableStream & { destroy?: () => void }) | null)?.destroy?.();
  }
}

describe('a cancelled call', () => {
  it('keeps its queue slot until its container is gone: a storm of cancels never runs more than CODECELL_CONCURRENCY containers', async () => {
    const lifetimes = new ContainerLifetimes();
    await lifetimes.listen();
    try {
      const waves = 6;
      const perWave = CONCURRENCY + 2;
      for (let wave = 0; wave < waves; wave += 1) {
        // The server has let go of the last wave: nothing runs or waits.
        const idle = await queueBecomes((queue) => queue.running === 0 && queue.waiting === 0);
        expect(idle).toEqual({ running: 0, waiting: 0 });
        const sessions = await Promise.all(Array.from({ length: perWave }, () => h.newSession()));
        const runs = sessions.map((session) => h.start('bash', SLEEPER, { session, timeout: h.budget(8) }));
        // Every call has reached the server (running or waiting) before it is cancelled...
        const arrived = await queueBecomes((queue) => queue.running + queue.waiting === perWave);
        expect(arrived.running + arrived.waiting).toBe(perWave);
        // ...and then all are cancelled at once, most of them while their containers start.
        await Promise.all(runs.map((run) => run.cancel()));
      }
      await queueBecomes((queue) => queue.running === 0 && queue.waiting === 0);
      await eventually(async () => lifetimes.allDead, (dead) => dead, PATIENCE);
      expect(lifetimes.allDead, 'every container of the storm died').toBe(true);
      expect(lifetimes.started, 'the storm started containers').toBeGreaterThan(0);
      expect(lifetimes.mostAlive).toBeLessThanOrEqual(CONCURRENCY);
    } finally {
      lifetimes.stop();
    }
    await h.stillServing();
  });

  it('keeps its session locked until its files are back: the next run there sees them', async () => {
    const session = await h.newSession();
    const token = random('mine');
    const planted = await h.exec('python', `open('mine.txt', 'w').write(${JSON.stringify(token)})\nprint('planted')`, { session });
    expect(planted.status, planted.stderr).toBe('ok');

    // Many files: moving them back after the kill takes the cancelled run a while.
    const victim = h.start('bash', `for i in $(seq 1000); do : > "f$i"; done\n${SLEEPER}`, { session, timeout: h.budget(60) });
    await victim.printed('started');
    await victim.cancel();
    const next = await h.exec(
      'python',
      "import os\nprint(sorted(os.listdir('.')))\nprint(open('mine.txt').read() if os.path.exists('mine.txt') else 'MISSING')",
      { session },
    );
    expect(next.status, next.stderr).toBe('ok');
    expect(next.stdout).toContain(token);
    await h.stillServing();
  });

  it('leaves no files behind when its session is closed right after', async () => {
    const session = await h.newSession();
    const victim = h.start('bash', `head -c 1000 /dev/zero > left.txt\n${SLEEPER}`, { session, timeout: h.budget(60) });
    await victim.printed('started');
    await victim.cancel();
    await h.client.callTool({ name: 'close_execution_session', arguments: { session_id: session } });
    // Once nothing runs any more, the closed session has nothing on disk.
    await queueBecomes((queue) => queue.running === 0 && queue.waiting === 0);
    await eventually(async () => (await containersAlive()) === 0, (none) => none, PATIENCE);
    expect(existsSync(sessionDir(session)), `files of closed session ${session} came back`).toBe(false);
    await h.stillServing();
  });
});

/** How many victim containers Docker still has, running or not. */
async function containersAlive(): Promise<number> {
  const listed = await docker.listContainers({ all: true, filters: { label: VICTIM_LABELS() } });
  return listed.length;
}

describe('closing a session', () => {
  it('kills its running run (no wait for the time limit) and leaves nothing on disk', async () => {
    const session = await h.newSession();
    const victim = h.start('bash', `echo x > left.txt\n${SLEEPER}`, { session, timeout: h.budget(20) });
    await victim.printed('started');
    const closed = await h.client.callTool({ name: 'close_execution_session', arguments: { session_id: session } });
    expect(closed.isError ?? false, JSON.stringify(closed.content)).toBe(false);
    const out = await victim.result;
    // Stopped by the close, not by its time limit.
    expect(out.status).toBe('killed');
    expect(existsSync(sessionDir(session)), `files of closed session ${session} are still on disk`).toBe(false);
    await eventually(async () => (await containersAlive()) === 0, (none) => none, PATIENCE);
    expect(existsSync(sessionDir(session)), `files of closed session ${session} came back`).toBe(false);
    await h.stillServing();
  });
});

describe('waiting for a busy session', () => {
  it('counts against CODECELL_QUEUE_LIMIT, shows in /healthz, and ends when cancelled', async () => {
    const session = await h.newSession();
    const holder = h.start('bash', SLEEPER, { session, timeout: h.budget(20) });
    await holder.printed('started');
    // One runs; CONCURRENCY - 1 + QUEUE_LIMIT more fit; the rest are refused at once.
    const admitted = CONCURRENCY - 1 + QUEUE_LIMIT;
    const extra = 2;
    const callers = Array.from({ length: admitted + extra }, (_, index) =>
      h.start('python', `print('late ${index}')`, { session, timeout: h.budget(60) }),
    );
    const refused = await eventually(async () => callers.filter((run) => run.ended).length, (ended) => ended >= extra, 100);
    expect(refused, 'calls past the limit are refused at once').toBe(extra);
    for (const run of callers.filter((candidate) => candidate.ended)) {
      await expect(run.result).rejects.toThrow(/QUEUE_FULL/);
    }
    expect(await queueNow()).toEqual({ running: 1, waiting: admitted });

    // A waiting call that is cancelled leaves the queue at once (it holds no container).
    const waiters = callers.filter((run) => !run.ended);
    const [given, ...kept] = waiters;
    if (given === undefined) throw new Error('no waiting call');
    await given.cancel();
    expect((await queueBecomes((queue) => queue.waiting === admitted - 1)).waiting).toBe(admitted - 1);

    await holder.cancel();
    const outs = await Promise.all(kept.map((run) => run.result));
    expect(outs.map((out) => out.status)).toEqual(kept.map(() => 'ok'));
    await h.stillServing();
  });
});

describe('a client that closes its connection', () => {
  const transports = [
    { name: 'Streamable HTTP (the POST that carries the call)', connect: () => connectStreamable(h.server.url, { userId: 'attacker' }) },
    { name: 'legacy SSE (the event stream)', connect: () => connectSse(h.server.url, { userId: 'attacker' }) },
  ];
  it.each(transports)('stops its call over $name: killed, and the session is free again', async ({ connect }) => {
    const session = await h.newSession();
    const client = await connect();
    const victim = h.start('bash', `echo written > before.txt\n${SLEEPER}`, {
      session,
      client,
      timeout: h.budget(20),
    });
    await victim.printed('started');
    // The transport closes its HTTP connections, with no MCP cancel notification.
    await client.close();
    await expect(victim.result).rejects.toThrow();
    // The next call in the session waits for the closed one to end: killed, not cut by its time limit.
    const after = await h.exec('python', "print(open('before.txt').read(), end='')", { session });
    expect(after.stdout).toBe('written\n');
    const history = await h.client.callTool({ name: 'get_execution_history', arguments: { session_id: session } });
    const entries = (history.structuredContent as { history: Array<{ status: string; code: string }> }).history;
    expect(entries.map((entry) => entry.status)).toEqual(['killed', 'ok']);
    expect((await queueNow()).running).toBe(0);
    await h.stillServing();
  });
});

describe('cancelled calls and the caller’s request budget', () => {
  it('gives a cancelled call’s place back: more cancels than the budget, and the caller still runs code', async () => {
    const budget = 2;
    const small = await Harness.start({
      pools: { python: 0, pythonLean: 0, node: 0, bash: 1 },
      env: { CODECELL_REQUESTS_PER_USER: String(budget) },
    });
    try {
      // A cancelled call gets no answer; the POST that carried it must not stay open holding a place.
      for (let index = 0; index <= budget; index += 1) {
        const run = small.start('bash', SLEEPER, { timeout: small.budget(20) });
        await run.printed('started');
        await run.cancel();
      }
      const after = await small.exec('bash', 'echo still served');
      expect(after.stdout).toBe('still served\n');
      await small.stillServing();
    } finally {
      await small.close();
    }
  });
});
