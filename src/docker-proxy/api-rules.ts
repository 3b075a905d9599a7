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
  | { readonly kind: 'events'; readonly containers: readonly string[] }
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

/**
 * API versions below this have other semantics the policy does not check: before 1.24 the engine
 * applies a HostConfig sent in the body of POST /containers/{id}/start (Privileged, Binds…).
 */
const MIN_API_VERSION = { major: 1, minor: 24 };

/** The path without an API version prefix (/v1.41/…), or null when it is not a plain path or names a too old API. */
export function unversionedPath(pathname: string): string | null {
  if (!pathname.startsWith('/') || pathname.includes('//') || /(^|\/)\.\.?(\/|$)/.test(pathname)) return null;
  const version = /^\/v([0-9]+)\.([0-9]+)(?=\/)/.exec(pathname);
  if (version) {
    const major = Number(version[1]);
    const minor = Number(version[2]);
    if (major < MIN_API_VERSION.major || (major === MIN_API_VERSION.major && minor < MIN_API_VERSION.minor)) return null;
    return pathname.slice(version[0].length);
  }
  if (/^\/v[0-9]/.test(pathname)) return null;
  return pathname;
}

/** The engine path of a per-container call, for the container's full id. */
export function containerCallPath(action: ContainerAction, id: string): string {
  const route = CONTAINER_ROUTES.find((candidate) => candidate.action === action);
  return `/containers/${id}${route?.suffix ?? ''}`;
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
  if (path === '/events' && method === 'GET') {
    const containers = eventsContainerFilter(url.searchParams.getAll('filters'));
    return containers === null
      ? refuse('events must filter on the Codecell containers they watch (filters.container)')
      : { allowed: true, call: { kind: 'events', containers } };
  }
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

/** The containers an events subscription names (each must be Codecell's, checked by the proxy), or null. */
function eventsContainerFilter(filters: readonly string[]): string[] | null {
  if (filters.length !== 1) return null;
  try {
    const parsed: unknown = JSON.parse(filters[0] ?? '');
    if (typeof parsed !== 'object' || parsed === null) return null;
    const containers = (parsed as Record<string, unknown>)['container'];
    if (!Array.isArray(containers) || containers.length === 0) return null;
    return containers.every((ref) => typeof ref === 'string' && CONTAINER_REF.test(ref)) ? (containers as string[]) : null;
  } catch {
    return null;
  }
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
