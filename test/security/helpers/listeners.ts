/**
 * Listeners on the host's loopback (and only there) for the egress cases: whatever reaches them
 * is counted. A sandbox has its own loopback, so an attempt at 127.0.0.1 or ::1 from inside must
 * leave these at zero. Each listener is first hit once from the host itself, to prove it counts;
 * `settle()` hits each once more and waits for those hits, so whatever reached a listener before
 * them has been counted by then (each listener takes its connections and datagrams in order).
 */
import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';

export interface Counter {
  readonly name: string;
  port: number;
  /** Connections (TCP, HTTP, unix) or datagrams (UDP) received. */
  hits: number;
}

/** Callbacks waiting for a counter's next hit. */
const waiting = new WeakMap<Counter, Array<() => void>>();

function counted(counter: Counter): void {
  counter.hits += 1;
  const callbacks = waiting.get(counter) ?? [];
  waiting.set(counter, []);
  for (const callback of callbacks) callback();
}

/** Resolves once `counter` has `hits` hits or more. */
function reaches(counter: Counter, hits: number): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (counter.hits >= hits) resolve();
      else waiting.set(counter, [...(waiting.get(counter) ?? []), check]);
    };
    check();
  });
}

export interface HostListeners {
  readonly tcp4: Counter;
  readonly tcp6: Counter;
  readonly udp4: Counter;
  readonly udp6: Counter;
  readonly http4: Counter;
  /** A DNS-shaped UDP listener on 127.0.0.1:53 when that port is free (else a random port). */
  readonly dns4: Counter;
  /** An abstract unix socket (per network namespace on Linux): its name, without the leading NUL. */
  readonly abstractUnix: Counter & { readonly socketName: string };
  total(): number;
  /** Resolves once everything sent to the listeners so far has been counted. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

async function tcp(host: string, name: string): Promise<{ counter: Counter; server: net.Server }> {
  const counter: Counter = { name, port: 0, hits: 0 };
  const server = net.createServer((socket) => {
    counted(counter);
    socket.destroy();
  });
  server.listen(0, host);
  await once(server, 'listening');
  counter.port = (server.address() as net.AddressInfo).port;
  return { counter, server };
}

async function udp(type: 'udp4' | 'udp6', host: string, name: string, port = 0): Promise<{ counter: Counter; socket: dgram.Socket }> {
  const counter: Counter = { name, port: 0, hits: 0 };
  const socket = dgram.createSocket(type);
  socket.on('message', () => counted(counter));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => resolve());
  });
  counter.port = socket.address().port;
  return { counter, socket };
}

async function dnsListener(): Promise<{ counter: Counter; socket: dgram.Socket }> {
  try {
    return await udp('udp4', '127.0.0.1', 'dns 127.0.0.1:53', 53);
  } catch {
    return udp('udp4', '127.0.0.1', 'dns 127.0.0.1 (random port)');
  }
}

export async function startHostListeners(tag: string): Promise<HostListeners> {
  const tcp4 = await tcp('127.0.0.1', 'tcp 127.0.0.1');
  const tcp6 = await tcp('::1', 'tcp [::1]');
  const udp4 = await udp('udp4', '127.0.0.1', 'udp 127.0.0.1');
  const udp6 = await udp('udp6', '::1', 'udp [::1]');
  const dns4 = await dnsListener();

  const httpCounter: Counter = { name: 'http 127.0.0.1', port: 0, hits: 0 };
  const httpServer = http.createServer((_req, res) => {
    counted(httpCounter);
    res.end('host secret page');
  });
  httpServer.listen(0, '127.0.0.1');
  await once(httpServer, 'listening');
  httpCounter.port = (httpServer.address() as net.AddressInfo).port;

  const socketName = `codecell-security-${tag}`;
  const unixCounter = { name: `abstract unix @${socketName}`, port: 0, hits: 0, socketName };
  const unixServer = net.createServer((socket) => {
    counted(unixCounter);
    socket.destroy();
  });
  unixServer.listen(`\0${socketName}`);
  await once(unixServer, 'listening');

  const listeners: HostListeners = {
    tcp4: tcp4.counter,
    tcp6: tcp6.counter,
    udp4: udp4.counter,
    udp6: udp6.counter,
    http4: httpCounter,
    dns4: dns4.counter,
    abstractUnix: unixCounter,
    total() {
      return [this.tcp4, this.tcp6, this.udp4, this.udp6, this.http4, this.dns4, this.abstractUnix].reduce((sum, c) => sum + c.hits, 0);
    },
    settle() {
      return hitEachFromHost(this);
    },
    async close() {
      await Promise.all([
        new Promise((resolve) => tcp4.server.close(resolve)),
        new Promise((resolve) => tcp6.server.close(resolve)),
        new Promise((resolve) => httpServer.close(resolve)),
        new Promise((resolve) => unixServer.close(resolve)),
      ]);
      for (const socket of [udp4.socket, udp6.socket, dns4.socket]) socket.close();
    },
  };
  await proveCounting(listeners);
  return listeners;
}

/** Hits every listener once from the host, checks it counted, and sets the counts back to zero. */
async function proveCounting(listeners: HostListeners): Promise<void> {
  await hitEachFromHost(listeners);
  for (const counter of allOf(listeners)) counter.hits = 0;
}

function allOf(listeners: HostListeners): Counter[] {
  return [listeners.tcp4, listeners.tcp6, listeners.udp4, listeners.udp6, listeners.http4, listeners.dns4, listeners.abstractUnix];
}

/**
 * Hits every listener once from the host and waits until each has counted it; the counts then
 * hold only what came from elsewhere. UDP datagrams are not acknowledged: one lost on loopback
 * would hang here, and the test's time limit would end it (a failure, never a pass).
 */
async function hitEachFromHost(listeners: HostListeners): Promise<void> {
  const before = new Map(allOf(listeners).map((counter) => [counter, counter.hits]));
  const connect = (options: net.NetConnectOpts) =>
    new Promise<void>((resolve, reject) => {
      const socket = net.connect(options, () => {
        socket.end();
        resolve();
      });
      socket.on('error', reject);
    });
  await connect({ host: '127.0.0.1', port: listeners.tcp4.port });
  await connect({ host: '::1', port: listeners.tcp6.port });
  await connect({ path: `\0${listeners.abstractUnix.socketName}` });
  await fetch(`http://127.0.0.1:${listeners.http4.port}/`).then((response) => response.text());
  for (const [counter, type, host] of [
    [listeners.udp4, 'udp4', '127.0.0.1'],
    [listeners.udp6, 'udp6', '::1'],
    [listeners.dns4, 'udp4', '127.0.0.1'],
  ] as const) {
    const sender = dgram.createSocket(type);
    await new Promise<void>((resolve, reject) => sender.send('probe', counter.port, host, (error) => (error ? reject(error) : resolve())));
    sender.close();
  }
  await Promise.all(allOf(listeners).map((counter) => reaches(counter, (before.get(counter) ?? 0) + 1)));
  for (const counter of allOf(listeners)) counter.hits -= 1;
}
