/** Shared set-up for the file tests: a temp data dir, a session store, a FileService, two principals. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadSettings, type Settings } from '../../../src/config/settings.js';
import { FileService } from '../../../src/files/file-service.js';
import { signedDownloadLinks } from '../../../src/interfaces/http/file-routes.js';
import { principalFor, type Principal } from '../../../src/sessions/principal.js';
import { SessionStore } from '../../../src/sessions/session-store.js';

export interface FilesFixture {
  readonly dataDir: string;
  readonly settings: Settings;
  readonly sessions: SessionStore;
  readonly files: FileService;
  readonly alice: Principal;
  readonly bob: Principal;
  readonly clock: { now: number };
  /** A new session of alice's; returns its id and files dir. */
  aliceSession(): Promise<{ id: string; dir: string }>;
  cleanup(): Promise<void>;
}

/** `env` uses the real setting names, e.g. { CODECELL_MAX_FILE_MB: '1' }. */
export async function filesFixture(env: Record<string, string> = {}): Promise<FilesFixture> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'codecell-files-'));
  const settings = loadSettings({}, { CODECELL_DATA_DIR: dataDir, ...env });
  const clock = { now: Date.now() };
  const sessions = await SessionStore.open({ dataDir, ttlMs: settings.sessions.ttlMs, maxSessions: 50 });
  const files = new FileService({ sessions, settings, downloadLinkFor: signedDownloadLinks(settings.publicUrl), now: () => clock.now });
  const alice = principalFor('key-a', 'alice');
  return {
    dataDir,
    settings,
    sessions,
    files,
    alice,
    bob: principalFor('key-a', 'bob'),
    clock,
    async aliceSession() {
      const meta = await sessions.create(alice);
      return { id: meta.id, dir: sessions.filesDir(meta.id) };
    },
    cleanup: () => rm(dataDir, { recursive: true, force: true }),
  };
}

export interface MultipartPart {
  readonly name: string;
  /** Written into the part header byte for byte (UTF-8), unescaped: tests need hostile names. */
  readonly filename?: string;
  readonly content: Buffer | string;
}

/** A multipart/form-data body built by hand, so tests control every byte of it. */
export function multipartBody(parts: readonly MultipartPart[]): { body: Buffer; contentType: string } {
  const boundary = `----codecell-test-${Math.random().toString(16).slice(2)}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const filename = part.filename === undefined ? '' : `; filename="${part.filename}"`;
    const type = part.filename === undefined ? '' : '\r\nContent-Type: application/octet-stream';
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"${filename}${type}\r\n\r\n`, 'utf8'));
    chunks.push(typeof part.content === 'string' ? Buffer.from(part.content, 'utf8') : part.content);
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}
