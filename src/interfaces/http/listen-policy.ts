/**
 * Where the server may listen, and which Host headers it answers. Running code for anyone who can
 * reach the port is remote code execution as a service, so an open (keyless) server stays on
 * loopback unless the operator says otherwise in so many words (CODECELL_ALLOW_OPEN).
 */
import type { RequestHandler } from 'express';
import { hostHeaderValidation } from '@modelcontextprotocol/sdk/server/middleware/hostHeaderValidation.js';
import type { Settings } from '../../config/settings.js';
import type { Logger } from '../../logger.js';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.has(host.toLowerCase()) || /^127(\.\d{1,3}){3}$/.test(host);
}

export class ListenPolicyError extends Error {
  override readonly name = 'ListenPolicyError';
}

/** Throws when an open server would be reachable from other machines; warns when allowed anyway. */
export function enforceListenPolicy(settings: Pick<Settings, 'host' | 'apiKeys' | 'allowOpen'>, logger: Logger): void {
  if (settings.apiKeys.length > 0) return;
  if (isLoopbackHost(settings.host)) {
    logger.info({ host: settings.host }, 'no API keys configured: open to local clients only');
    return;
  }
  if (!settings.allowOpen) {
    throw new ListenPolicyError(
      `refusing to listen on ${settings.host} without API keys: anyone who reaches the port could run code. ` +
        'Set CODECELL_API_KEYS, or listen on 127.0.0.1, or set CODECELL_ALLOW_OPEN=true on a network you trust.',
    );
  }
  logger.warn(
    { host: settings.host },
    '!!! OPEN SERVER: no API keys and listening beyond loopback (CODECELL_ALLOW_OPEN=true). ' +
      'Anyone who can reach this port can run code in your sandboxes. !!!',
  );
}

/**
 * DNS-rebinding guard for loopback servers: a web page that re-points its own name to 127.0.0.1
 * still sends its own name as Host, so only loopback names (plus the public URL's host, for a
 * reverse proxy that keeps Host) get through. Returns null when bound beyond loopback, where the
 * API key is the guard.
 */
export function hostValidation(settings: Pick<Settings, 'host' | 'publicUrl'>): RequestHandler | null {
  if (!isLoopbackHost(settings.host)) return null;
  const allowed = ['localhost', '127.0.0.1', '[::1]'];
  if (settings.publicUrl !== undefined) allowed.push(new URL(settings.publicUrl).hostname);
  return hostHeaderValidation(allowed);
}
