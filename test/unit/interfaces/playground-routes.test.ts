/** The playground's static route on loopback HTTP: page and frame with their policies, assets, and nothing else. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http, { type Server } from 'node:http';
import zlib from 'node:zlib';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPlaygroundRouter, FRAME_CSP, PAGE_CSP } from '../../../src/interfaces/http/playground-routes.js';

/** A bundle-like script, large enough to be worth compressing. */
const BIG_SCRIPT = Array.from({ length: 4000 }, (_, i) => `export function f${i}(x) { return x * ${i} + ${i % 7}; }`).join('\n');

/** GET with an Accept-Encoding of our choice; the body as sent (fetch would decode it). */
function rawGet(url: string, acceptEncoding: string): Promise<{ encoding: string | undefined; body: Buffer; csp: string | undefined }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers: { 'accept-encoding': acceptEncoding } }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            encoding: response.headers['content-encoding'],
            body: Buffer.concat(chunks),
            csp: response.headers['content-security-policy'] as string | undefined,
          }),
        );
      })
      .on('error', reject);
  });
}

let webRoot: string;
let server: Server;
let base: string;

beforeAll(async () => {
  webRoot = mkdtempSync(path.join(os.tmpdir(), 'codecell-web-'));
  mkdirSync(path.join(webRoot, 'playground'));
  writeFileSync(path.join(webRoot, 'index.html'), '<!doctype html><title>page</title>');
  writeFileSync(path.join(webRoot, 'playground', 'app.js'), 'export const answer = 42;');
  writeFileSync(path.join(webRoot, 'playground', 'frame.html'), '<!doctype html><title>frame</title>');
  writeFileSync(path.join(webRoot, 'playground', 'big.js'), BIG_SCRIPT);
  const app = express();
  app.use(createPlaygroundRouter(webRoot));
  app.use((_req, res) => res.status(404).json({ error: 'not_found' }));
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(webRoot, { recursive: true, force: true });
});

describe('playground routes', () => {
  it('serves the page at / with the strict policy', async () => {
    const response = await fetch(`${base}/`);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('<title>page</title>');
    expect(response.headers.get('content-security-policy')).toBe(PAGE_CSP);
    expect(PAGE_CSP).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('serves assets under /playground/ and the frame with its sandboxing policy', async () => {
    const script = await fetch(`${base}/playground/app.js`);
    expect(await script.text()).toBe('export const answer = 42;');
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    const frame = await fetch(`${base}/playground/frame.html`);
    expect(frame.headers.get('content-security-policy')).toBe(FRAME_CSP);
    expect(FRAME_CSP.startsWith('sandbox allow-scripts;')).toBe(true);
    expect(FRAME_CSP).not.toContain('allow-same-origin');
    expect(FRAME_CSP).toContain("connect-src 'none'");
  });

  it('sends the page\'s files compressed as the browser accepts, the same bytes once decoded', async () => {
    const url = `${base}/playground/big.js`;
    const gzip = await rawGet(url, 'gzip');
    expect(gzip.encoding).toBe('gzip');
    expect(zlib.gunzipSync(gzip.body).toString('utf8')).toBe(BIG_SCRIPT);
    expect(gzip.body.length).toBeLessThan(BIG_SCRIPT.length / 3);
    const brotli = await rawGet(url, 'br');
    expect(brotli.encoding).toBe('br');
    expect(zlib.brotliDecompressSync(brotli.body).toString('utf8')).toBe(BIG_SCRIPT);
    const plain = await rawGet(url, 'identity');
    expect(plain.encoding).toBeUndefined();
    expect(plain.body.toString('utf8')).toBe(BIG_SCRIPT);
    // The page keeps its policy when compressed.
    expect((await rawGet(`${base}/`, 'gzip')).csp).toBe(PAGE_CSP);
  });

  it('leaves other paths, traversal and a missing build to the next handler', async () => {
    expect((await fetch(`${base}/playground/missing.js`)).status).toBe(404);
    expect((await fetch(`${base}/playground/..%2f..%2fetc%2fpasswd`)).status).toBe(404);
    expect((await fetch(`${base}/v1/anything`)).status).toBe(404);
    const empty = express().use(createPlaygroundRouter(path.join(webRoot, 'nope')));
    const other = empty.listen(0, '127.0.0.1');
    await new Promise((resolve) => other.once('listening', resolve));
    const response = await fetch(`http://127.0.0.1:${(other.address() as AddressInfo).port}/`);
    await new Promise((resolve) => other.close(resolve));
    expect(response.status).toBe(404);
  });
});
