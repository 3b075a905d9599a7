/**
 * The origin a request was sent to (scheme://host[:port]), for links back to this server when no
 * CODECELL_PUBLIC_URL is set. Express gives the scheme and Host, taking X-Forwarded-Proto and
 * X-Forwarded-Host instead only from a proxy that CODECELL_TRUST_PROXY names ("trust proxy").
 * A client can still send any Host of its own: a link built from it goes back only to that
 * client, in its own answer; a Host that is not a plain host[:port] gives no origin at all.
 * X-Forwarded-Host/-Proto with more than one entry give none either: Express takes the first entry,
 * which the client wrote, not the one the nearest trusted proxy appended.
 */

/** A DNS name or IPv4 address, or a bracketed IPv6 address, with an optional port. */
const PLAIN_HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*\.?|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

export interface ForwardedHeaders {
  readonly host?: string | undefined;
  readonly proto?: string | undefined;
}

export function requestOrigin(protocol: string, host: string | undefined, forwarded: ForwardedHeaders = {}): string | undefined {
  if (forwarded.host?.includes(',') || forwarded.proto?.includes(',')) return undefined;
  if (protocol !== 'http' && protocol !== 'https') return undefined;
  if (host === undefined || host.length > 260 || !PLAIN_HOST.test(host)) return undefined;
  try {
    const url = new URL(`${protocol}://${host}`);
    return url.origin === 'null' ? undefined : url.origin;
  } catch {
    return undefined;
  }
}
