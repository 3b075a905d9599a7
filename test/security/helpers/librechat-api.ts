/**
 * LibreChat's Code API (`/v1/exec`, `/v1/upload`, downloads) called the way LibreChat calls it,
 * over real HTTP, for the attack suite. Every call sends the test key; users are named as
 * LibreChat names them (`User-Id`, `user_id`, `?kind=&id=`), or by X-User-Id where a test says so.
 */
import { expect } from 'vitest';
import { TEST_KEY } from '../../interfaces/helpers/test-server.js';
import { multipartBody, type MultipartPart } from '../../unit/files/helpers.js';

export type Headers = Record<string, string>;

export interface ExecAnswer {
  readonly session_id: string;
  readonly stdout: string;
  readonly stderr: string;
  readonly status: string;
  readonly files: Array<{ id: string; name: string; storage_session_id: string }>;
}

export interface Uploaded {
  /** The storage session (21 characters). */
  readonly session: string;
  readonly fileId: string;
}

export class LibreChatApi {
  constructor(private readonly baseUrl: string) {}

  /** POST /v1/exec; the raw answer. */
  execRaw(body: Record<string, unknown>, headers: Headers = {}): Promise<Response> {
    return fetch(`${this.baseUrl}/v1/exec`, {
      method: 'POST',
      headers: { 'X-API-Key': TEST_KEY, 'Content-Type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
  }

  /** POST /v1/exec that must answer 200. */
  async exec(body: Record<string, unknown>, headers: Headers = {}): Promise<ExecAnswer> {
    const response = await this.execRaw(body, headers);
    const text = await response.text();
    expect(response.status, text).toBe(200);
    return JSON.parse(text) as ExecAnswer;
  }

  /** POST /v1/upload of one file, with the form fields LibreChat sends before it; must succeed. */
  async upload(fields: Record<string, string>, filename: string, content: Buffer | string, headers: Headers = {}): Promise<Uploaded> {
    const parts: MultipartPart[] = [...Object.entries(fields).map(([name, value]) => ({ name, content: value })), { name: 'file', filename, content }];
    const { body, contentType } = multipartBody(parts);
    const response = await fetch(`${this.baseUrl}/v1/upload`, {
      method: 'POST',
      headers: { 'X-API-Key': TEST_KEY, 'Content-Type': contentType, ...headers },
      body: new Uint8Array(body),
    });
    const text = await response.text();
    expect(response.status, text).toBe(200);
    const answer = JSON.parse(text) as { storage_session_id: string; files: Array<{ fileId: string }> };
    return { session: answer.storage_session_id, fileId: answer.files[0]?.fileId ?? '' };
  }

  /** Any other route under /v1 (download, listing, delete). */
  call(method: string, path: string, headers: Headers = {}): Promise<Response> {
    return fetch(`${this.baseUrl}/v1${path}`, { method, headers: { 'X-API-Key': TEST_KEY, ...headers } });
  }

  /** The bytes of a stored file as text; the download must succeed. */
  async downloadText(file: Uploaded, query = '', headers: Headers = {}): Promise<string> {
    const response = await this.call('GET', `/download/${file.session}/${file.fileId}${query}`, headers);
    const text = await response.text();
    expect(response.status, text).toBe(200);
    return text;
  }
}
