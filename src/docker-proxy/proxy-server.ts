/**
 * Codecell's Docker socket proxy: an HTTP server that forwards to the engine only the calls
 * api-rules.ts allows, container creates whose body create-policy.ts accepts, and per-container
 * calls on containers labelled codecell=true. Hand-written: the proxies packaged in Debian and on
 * npm filter by path and method only, none validates a create body.
 */
import http from 'node:http';
import net from 'node:net';
import { LRUCache } from 'lru-cache';
import type { DockerEndpoint } from '../config/docker-endpoint.js';
import { classifyRequest, containerCallPath, type ApiCall } from './api-rules.js';
import { checkCreateBody, type CreatePolicy } from './create-policy.js';

/** The biggest create body accepted (a create with its seccomp profile is about 10 KB). */
const MAX_CREATE_BODY_BYTES = 1024 * 1024;
/** dockerode repeats a create's whole body in its query string: the engine's header limit, not Node's 16 KB. */
const MAX_HEADER_BYTES = 1024 * 1024;

export interface ProxyOptions {
  readonly upstream: DockerEndpoint;
  readonly policy: CreatePolicy;
  /** Told of each refused call (method, path, reason). */
  readonly onRefused?: (method: string, path: string, reason: string) => void;
}

type Verdict = { readonly allowed: true; readonly forwardPath: string; readonly body?: Buffer } | { readonly allowed: false; readonly status: number; readonly reason: string };

export function createProxyServer(options: ProxyOptions): http.Server {
  const codecellContainers = new LRUCache<string, true>({ max: 4096 });
  const server = http.createServer({ maxHeaderSize: MAX_HEADER_BYTES });

  const upstreamTarget = (): http.RequestOptions =>
    options.upstream.kind === 'unix' ? { socketPath: options.upstream.socketPath } : { host: options.upstream.host, port: options.upstream.port };

  /**
   * The full id of the container `ref` names when it is one of Codecell's, 'unknown' when the engine
   * does not know it, or null. Only full ids are cached: names and id prefixes are looked up each
   * time (a name freed by a Codecell container may later name someone else's).
   */
  const codecellContainerId = async (ref: string): Promise<string | null | 'unknown'> => {
    if (codecellContainers.has(ref)) return ref;
    const { status, body } = await upstreamGet(`/containers/${encodeURIComponent(ref)}/json`);
    if (status === 404) return 'unknown';
    if (status !== 200) throw new Error(`inspecting ${ref}: engine answered ${status}`);
    const parsed = JSON.parse(body) as { Id?: unknown; Config?: { Labels?: Record<string, string> | null } };
    if (parsed.Config?.Labels?.['codecell'] !== 'true' || typeof parsed.Id !== 'string' || !/^[0-9a-f]{64}$/.test(parsed.Id)) return null;
    codecellContainers.set(parsed.Id, true);
    return parsed.Id;
  };

  const upstreamGet = (path: string): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const request = http.request({ ...upstreamTarget(), path, method: 'GET', agent: false }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', reject);
      });
      request.on('error', reject);
      request.end();
    });

  const decide = async (request: http.IncomingMessage): Promise<Verdict> => {
    const url = new URL(request.url ?? '/', 'http://docker');
    const rule = classifyRequest(request.method ?? 'GET', url);
    if (!rule.allowed) return { allowed: false, status: 403, reason: rule.reason };
    return decideCall(rule.call, url, request);
  };

  const decideCall = async (call: ApiCall, url: URL, request: http.IncomingMessage): Promise<Verdict> => {
    const original = `${url.pathname}${url.search}`;
    if (call.kind === 'create-container') {
      const raw = await readBody(request, MAX_CREATE_BODY_BYTES);
      if (raw === null) return { allowed: false, status: 413, reason: 'create body too large' };
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        return { allowed: false, status: 400, reason: 'create body is not JSON' };
      }
      const verdict = checkCreateBody(body, options.policy);
      if (!verdict.allowed) return { allowed: false, status: 403, reason: verdict.reason };
      // Only `name` of the query goes on (dockerode repeats the body there; the engine reads the body).
      const name = url.searchParams.get('name');
      // A name only in Codecell's own space: another would squat a name another service is created under.
      if (name !== null && !/^codecell-[A-Za-z0-9_.-]{1,119}$/.test(name)) return { allowed: false, status: 403, reason: 'a container name must start with codecell-' };
      const query = name === null ? '' : `?name=${name}`;
      // The body as checked, written anew: the engine's JSON decoder differs from JSON.parse (a repeated
      // key's object is merged into the first, keys match case-insensitively), so raw bytes could say more.
      return { allowed: true, forwardPath: `/containers/create${query}`, body: Buffer.from(JSON.stringify(body)) };
    }
    if (call.kind === 'container') {
      const id = await codecellContainerId(call.id);
      if (id === 'unknown') return { allowed: false, status: 404, reason: `no such container: ${call.id}` };
      if (id === null) return { allowed: false, status: 403, reason: 'not a Codecell container' };
      // The call goes to the id checked, never again by a name that could name another container by then.
      return { allowed: true, forwardPath: `${containerCallPath(call.action, id)}${url.search}`, body: Buffer.alloc(0) };
    }
    if (call.kind === 'events') {
      const ids: string[] = [];
      for (const ref of call.containers) {
        const id = await codecellContainerId(ref);
        if (id === null || id === 'unknown') return { allowed: false, status: 403, reason: `events only of Codecell containers (${ref})` };
        ids.push(id);
      }
      const query = new URLSearchParams(url.searchParams);
      const filters = JSON.parse(query.get('filters') ?? '{}') as Record<string, unknown>;
      query.set('filters', JSON.stringify({ ...filters, container: ids }));
      return { allowed: true, forwardPath: `/events?${query.toString()}`, body: Buffer.alloc(0) };
    }
    // Another image's config (its Env may hold secrets) is none of the server's business.
    if (call.kind === 'inspect-image' && !new RegExp(`^${escapeRegExp(options.policy.imagePrefix)}-[a-z0-9]+:latest$`).test(call.name)) {
      return { allowed: false, status: 403, reason: `only ${options.policy.imagePrefix}-<name>:latest images may be inspected` };
    }
    // The rest carry no body the executor needs: none goes on (the engine would read one as options).
    return { allowed: true, forwardPath: original, body: Buffer.alloc(0) };
  };

  server.on('request', (request: http.IncomingMessage, response: http.ServerResponse) => {
    decide(request)
      .then((verdict) => {
        if (!verdict.allowed) {
          options.onRefused?.(request.method ?? '?', request.url ?? '?', verdict.reason);
          request.resume();
          refuse(response, verdict.status, verdict.reason);
          return;
        }
        forward(request, response, verdict);
      })
      .catch((error: unknown) => {
        request.resume();
        refuse(response, 502, `proxy: ${error instanceof Error ? error.message : String(error)}`);
      });
  });

  const forward = (request: http.IncomingMessage, response: http.ServerResponse, verdict: Verdict & { allowed: true }): void => {
    const headers = { ...request.headers };
    if (verdict.body !== undefined) {
      delete headers['transfer-encoding'];
      headers['content-length'] = String(verdict.body.length);
    }
    const upstream = http.request(
      { ...upstreamTarget(), path: verdict.forwardPath, method: request.method, headers, agent: false },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        // Streams (events, attach) answer headers first and data much later: the client waits on them.
        response.flushHeaders();
        answer.pipe(response);
      },
    );
    upstream.on('error', (error) => {
      if (!response.headersSent) refuse(response, 502, `engine: ${error.message}`);
      else response.destroy();
    });
    response.on('close', () => upstream.destroy());
    if (verdict.body !== undefined) upstream.end(verdict.body);
    else request.pipe(upstream);
  };

  // attach with hijack: the connection becomes a raw stream both ways once the engine says 101.
  server.on('upgrade', (request: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    decide(request)
      .then((verdict) => {
        if (!verdict.allowed || !isAttach(request)) {
          const reason = verdict.allowed ? 'only attach may upgrade' : verdict.reason;
          options.onRefused?.(request.method ?? '?', request.url ?? '?', reason);
          socket.end(rawRefusal(verdict.allowed ? 403 : verdict.status, reason));
          return;
        }
        // The engine drops an attach's body only when it arrives with the headers (what it has
        // buffered at the hijack); sent later, it would reach the container's stdin. So the
        // body (the client's attach options, repeated in the query) stays here.
        const bodyLength = Number(request.headers['content-length'] ?? '0');
        if (!Number.isSafeInteger(bodyLength) || bodyLength < 0 || bodyLength > MAX_CREATE_BODY_BYTES || request.headers['transfer-encoding'] !== undefined) {
          socket.end(rawRefusal(400, 'an attach body must have a Content-Length'));
          return;
        }
        return skipBytes(socket, head, bodyLength).then((rest) => {
          const engine = options.upstream.kind === 'unix' ? net.connect(options.upstream.socketPath) : net.connect(options.upstream.port, options.upstream.host);
          engine.on('error', () => socket.destroy());
          socket.on('error', () => engine.destroy());
          engine.once('connect', () => {
            engine.write(rawRequestHead(request, verdict.forwardPath));
            // Nothing of the client's goes on until the engine has switched protocols: on any other
            // answer the engine's connection is still HTTP, and bytes sent now would be its next request.
            void awaitResponseHead(engine).then(({ head: answer, switched }) => {
              socket.write(answer);
              if (!switched) {
                engine.end();
                engine.pipe(socket);
                return;
              }
              if (rest.length > 0) engine.write(rest);
              socket.pipe(engine);
              engine.pipe(socket);
              socket.resume();
            }, () => socket.destroy());
          });
        });
      })
      .catch(() => socket.destroy());
  });

  return server;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function isAttach(request: http.IncomingMessage): boolean {
  const rule = classifyRequest(request.method ?? 'GET', new URL(request.url ?? '/', 'http://docker'));
  return rule.allowed && rule.call.kind === 'container' && rule.call.action === 'attach';
}

/** The request line and headers as the client sent them, but without a body. */
function rawRequestHead(request: http.IncomingMessage, path: string): string {
  const lines = [`${request.method ?? 'POST'} ${path} HTTP/1.1`];
  for (let i = 0; i + 1 < request.rawHeaders.length; i += 2) {
    const name = request.rawHeaders[i] ?? '';
    if (/^(content-length|transfer-encoding)$/i.test(name)) continue;
    lines.push(`${name}: ${request.rawHeaders[i + 1] ?? ''}`);
  }
  lines.push('Content-Length: 0');
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** Reads and drops the first `count` bytes of `head` and then the socket; resolves with what came after them. */
function skipBytes(socket: net.Socket, head: Buffer, count: number): Promise<Buffer> {
  if (head.length >= count) return Promise.resolve(head.subarray(count));
  let missing = count - head.length;
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      if (chunk.length < missing) {
        missing -= chunk.length;
        return;
      }
      socket.off('data', onData);
      socket.off('error', reject);
      socket.pause();
      resolve(chunk.subarray(missing));
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

/** Reads the engine's answer up to the end of its head; `switched` when it is 101 Switching Protocols. */
function awaitResponseHead(engine: net.Socket): Promise<{ head: Buffer; switched: boolean }> {
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf('\r\n\r\n');
      if (end === -1) {
        if (received.length > MAX_HEADER_BYTES) finish(new Error('engine answer head too long'));
        return;
      }
      engine.off('data', onData);
      engine.pause();
      cleanup();
      resolve({ head: received, switched: /^HTTP\/1\.[01] 101 /.test(received.toString('latin1', 0, end)) });
    };
    const onEnd = (): void => finish(new Error('engine closed before answering'));
    const cleanup = (): void => {
      engine.off('end', onEnd);
      engine.off('error', finish);
    };
    const finish = (error: Error): void => {
      engine.off('data', onData);
      cleanup();
      reject(error);
    };
    engine.on('data', onData);
    engine.once('end', onEnd);
    engine.once('error', finish);
  });
}

function rawRefusal(status: number, reason: string): string {
  const body = JSON.stringify({ message: `codecell docker proxy: ${reason}` });
  return `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Refused'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

function refuse(response: http.ServerResponse, status: number, reason: string): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  response.writeHead(status, { 'Content-Type': 'application/json' });
  response.end(JSON.stringify({ message: `codecell docker proxy: ${reason}` }));
}

/** The whole body, or null once it passes `limit` bytes. */
function readBody(request: http.IncomingMessage, limit: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        request.removeAllListeners('data');
        request.resume();
        resolve(null);
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}
