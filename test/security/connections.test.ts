/**
 * Connections that never send a request must not pile up: each holds a file descriptor, and enough
 * of them starved /healthz and every real caller. Past CODECELL_MAX_PENDING_CONNECTIONS the oldest
 * silent connection is closed, so real clients, which send their request at once, get through.
 *
 * The header timeout is set far beyond the test's length, so a silent connection that closes was
 * closed by the cap, not by a timer.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from './helpers/harness.js';

const MAX_PENDING = 16;
const SILENT = 200;

let harness: Harness;
const sockets: net.Socket[] = [];

beforeAll(async () => {
  harness = await Harness.start({
    env: {
      CODECELL_MAX_PENDING_CONNECTIONS: String(MAX_PENDING),
      CODECELL_HEADERS_TIMEOUT_SECONDS: '600',
      CODECELL_REQUEST_TIMEOUT_SECONDS: '600',
    },
  });
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await harness?.close();
});

/** A connection that sends the start of a request and then nothing (slowloris), without a key. */
async function silentConnection(url: URL): Promise<{ socket: net.Socket; closed: Promise<void> }> {
  const socket = net.connect(Number(url.port), url.hostname);
  sockets.push(socket);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.write(`GET /healthz HTTP/1.1\r\nHost: ${url.host}\r\n`);
  return { socket, closed };
}

describe('half-open connections', () => {
  it(
    'silent connections beyond the cap are closed, oldest first, and real callers are served meanwhile',
    async () => {
      const url = new URL(harness.server.url);
      const silent = [];
      for (let index = 0; index < SILENT; index += 1) silent.push(await silentConnection(url));

      // A real caller gets through while the silent ones are held.
      const health = await fetch(new URL('/healthz', url));
      expect(health.status).toBe(200);

      // Every silent connection but the newest MAX_PENDING was closed by the server...
      await Promise.all(silent.slice(0, SILENT - MAX_PENDING).map((connection) => connection.closed));
      // ...and the newest are still open: the cap, not a timer, closed the others. (The real caller's
      // connection, if it was a new one, pushed out one more.)
      const open = silent.slice(SILENT - MAX_PENDING).filter(({ socket }) => !socket.destroyed && socket.readyState === 'open');
      expect(open.length).toBeGreaterThanOrEqual(MAX_PENDING - 1);
    },
    // Without the cap, Node's own header timeout (60 s, checked every 30 s) is what closes them.
    45_000,
  );

  it('serves normally while the newest silent connections are still held', async () => {
    await harness.stillServing();
  });
});
