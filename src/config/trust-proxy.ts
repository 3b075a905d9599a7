/**
 * CODECELL_TRUST_PROXY: which reverse proxy's X-Forwarded-Proto/-Host (and -For) the server
 * believes, in express's "trust proxy" terms. Unset: none (the request's own Host and scheme).
 * A number: that many proxy hops in front. Otherwise a comma-separated list of addresses, CIDR
 * subnets and the names loopback, linklocal, uniquelocal. "Trust everyone" is refused: any client
 * could then forge where links point and who it is.
 */
import { isIP } from 'node:net';

export type TrustProxy = false | number | readonly string[];

const NAMED = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** Why `entry` is not a proxy address, subnet or name; undefined when it is one. */
function entryProblem(entry: string): string | undefined {
  if (NAMED.has(entry)) return undefined;
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return `"${entry}" is not an IP address, a CIDR subnet or loopback/linklocal/uniquelocal`;
  if (prefix === undefined) return undefined;
  const bits = /^\d{1,3}$/.test(prefix) ? Number(prefix) : Number.NaN;
  return bits >= 0 && bits <= (family === 4 ? 32 : 128) ? undefined : `"${entry}" has a bad prefix length`;
}

/** The setting's value, or a sentence saying why it cannot be one. */
export function parseTrustProxy(raw: string | undefined): TrustProxy | { readonly problem: string } {
  const text = raw?.trim() ?? '';
  if (text === '' || text === 'false') return false;
  if (text === 'true') {
    return { problem: 'name the proxy (its address, subnet, loopback, or a number of hops): "true" would trust any client' };
  }
  if (/^\d+$/.test(text)) {
    const hops = Number(text);
    return hops >= 1 && hops <= 10 ? hops : { problem: 'a number of proxy hops must be 1 to 10' };
  }
  const entries = text.split(',').map((entry) => entry.trim()).filter((entry) => entry.length > 0);
  for (const entry of entries) {
    const problem = entryProblem(entry);
    if (problem !== undefined) return { problem };
  }
  return Object.freeze(entries);
}
