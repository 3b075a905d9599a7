/**
 * Which Docker engine API calls the socket proxy lets through: exactly those the Docker executor
 * (src/executor/docker/) makes at run time, by method and path. Anything else (exec, build, pull,
 * /info, volumes, networks, other containers' logs…) is refused. What a call may say is checked
 * further where a path alone cannot tell: container-create bodies (create-policy.ts), the label
 * filter of container lists, and (proxy-server.ts) that a per-container call names a Codecell container.
 */
export type ContainerAction = 'inspect' | 'attach' | 'start' | 'wait' | 'kill' | 'remove';

export type ApiCall =
  | { readonly kind: 'ping' }
  | { readonly kind: 'version' }
  | { readonly kind: 'events' }
  | { readonly kind: 'list-containers' }
  | { readonly kind: 'create-container' }
  | { readonly kind: 'container'; readonly action: ContainerAction; readonly id: string }
  | { readonly kind: 'inspect-image'; readonly name: string };

export type RuleVerdict = { readonly allowed: true; readonly call: ApiCall } | { readonly allowed: false; readonly reason: string };

/** Container ids and names as the engine accepts them (no slashes, no dots-only). */
const CONTAINER_REF = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
/** An image reference: [registry/]repository[:tag] (what CODECELL_IMAGE_PREFIX allows, plus a tag). */
const IMAGE_REF = /^[a-z0-9][a-z0-9._/-]*(?::[A-Za-z0-9_.-]{1,128})?$/;

const CONTAINER_ROUTES: ReadonlyArray<{ readonly method: string; readonly suffix: string; readonly action: ContainerAction }> = [
  { method: 'GET', suffix: '/json', action: 'inspect' },
  { method: 'POST', suffix: '/attach', action: 'attach' },
  { method: 'POST', suffix: '/start', action: 'start' },
  { method: 'POST', suffix: '/wait', action: 'wait' },
  { method: 'POST', suffix: '/kill', action: 'kill' },
  { method: 'DELETE', suffix: '', action: 'remove' },
];

function refuse(reason: string): RuleVerdict {
  return { allowed: false, reason };
}

/** The path without an API version prefix (/v1.41/…), or null when it is not a plain path. */
export function unversionedPath(pathname: string): string | null {
  if (!pathname.startsWith('/') || pathname.includes('//') || /(^|\/)\.\.?(\/|$)/.test(pathname)) return null;
  return pathname.replace(/^\/v[0-9]+\.[0-9]+(?=\/)/, '');
}

/** Decides one request by its method, path and query (the URL as the client sent it). */
export function classifyRequest(method: string, url: URL): RuleVerdict {
  let raw: string;
  try {
    raw = decodeURIComponent(url.pathname);
  } catch {
    return refuse('malformed path');
  }
  const path = unversionedPath(raw);
  if (path === null) return refuse('malformed path');
  if (path === '/_ping' && (method === 'GET' || method === 'HEAD')) return { allowed: true, call: { kind: 'ping' } };
  if (path === '/version' && method === 'GET') return { allowed: true, call: { kind: 'version' } };
  if (path === '/events' && method === 'GET') return { allowed: true, call: { kind: 'events' } };
  if (path === '/containers/json' && method === 'GET') {
    return listFilterIsCodecell(url.searchParams.get('filters'))
      ? { allowed: true, call: { kind: 'list-containers' } }
      : refuse('a container list must filter on the label codecell=true');
  }
  if (path === '/containers/create' && method === 'POST') return { allowed: true, call: { kind: 'create-container' } };
  const container = /^\/containers\/([^/]+)(\/[a-z]+)?$/.exec(path);
  if (container) {
    const [, id = '', suffix = ''] = container;
    const route = CONTAINER_ROUTES.find((candidate) => candidate.method === method && candidate.suffix === suffix);
    if (!route) return refuse(`${method} /containers/{id}${suffix} is not allowed`);
    if (!CONTAINER_REF.test(id)) return refuse('malformed container id');
    return { allowed: true, call: { kind: 'container', action: route.action, id } };
  }
  const image = /^\/images\/(.+)\/json$/.exec(path);
  if (image && method === 'GET') {
    const name = image[1] ?? '';
    return IMAGE_REF.test(name) ? { allowed: true, call: { kind: 'inspect-image', name } } : refuse('malformed image name');
  }
  return refuse(`${method} ${path} is not allowed`);
}

/** The executor lists only its own containers: `filters` must hold label codecell=true. */
function listFilterIsCodecell(filters: string | null): boolean {
  if (filters === null) return false;
  try {
    const parsed: unknown = JSON.parse(filters);
    if (typeof parsed !== 'object' || parsed === null) return false;
    const labels = (parsed as Record<string, unknown>)['label'];
    return Array.isArray(labels) && labels.includes('codecell=true');
  } catch {
    return false;
  }
}
