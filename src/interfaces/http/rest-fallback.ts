/**
 * The last handler under /v1: a path some route has, with a method it does not take, gets 405 and
 * an Allow header; a path no route has gets 404 listing the routes. Both read the routers' own
 * route tables, so the answer stays true as routes are added.
 */
import type { Request, RequestHandler, Response, Router } from 'express';
import { z } from 'zod';

export interface RestRoute {
  /** Upper-case methods, HEAD included where GET is. */
  readonly methods: readonly string[];
  /** The route's path as registered, e.g. '/sessions/:session/files/*path'. */
  readonly path: string;
}

// Express keeps a router's routes in router.stack; each route layer has .route {path, methods}.
const RouteLayerSchema = z.object({
  route: z.object({ path: z.string(), methods: z.record(z.string(), z.boolean()) }),
});

/** The method routes of `routers`, in the order they were registered. */
export function restRoutesOf(routers: readonly Router[]): RestRoute[] {
  const routes: RestRoute[] = [];
  for (const router of routers) {
    for (const layer of router.stack as unknown[]) {
      const parsed = RouteLayerSchema.safeParse(layer);
      if (!parsed.success) continue;
      const methods = Object.keys(parsed.data.route.methods)
        .filter((method) => parsed.data.route.methods[method] === true && method !== '_all')
        .map((method) => method.toUpperCase());
      if (methods.includes('GET') && !methods.includes('HEAD')) methods.push('HEAD');
      routes.push({ methods, path: parsed.data.route.path });
    }
  }
  return routes;
}

/** Whether `path` fits a route path: ':name' is one path segment, '*name' the rest (one or more). */
export function routeFits(routePath: string, path: string): boolean {
  const pattern = routePath
    .split('/')
    .map((part) => {
      if (part.startsWith(':')) return '[^/]+';
      if (part.startsWith('*')) return '.+';
      return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return new RegExp(`^${pattern}/?$`).test(path);
}

/** How a route is shown to people: '/sessions/:session/files' → 'GET /v1/sessions/{session}/files'. */
function shown(route: RestRoute, prefix: string): string {
  const path = route.path.replace(/[:*]([A-Za-z_]+)/g, '{$1}');
  return `${route.methods.filter((method) => method !== 'HEAD').join('|')} ${prefix}${path}`;
}

/** 405 for a known path with another method, else 404 naming the routes; mounted at `prefix`. */
export function restFallback(prefix: string, routers: readonly Router[]): RequestHandler {
  return (req: Request, res: Response) => {
    const routes = restRoutesOf(routers);
    const allowed = [...new Set(routes.filter((route) => routeFits(route.path, req.path)).flatMap((route) => route.methods))];
    if (allowed.length > 0) {
      res.setHeader('Allow', allowed.join(', '));
      res.status(405).json({
        error: 'method_not_allowed',
        message: `${req.method} is not allowed on ${prefix}${req.path}; it takes ${allowed.filter((method) => method !== 'HEAD').join(', ')}`,
      });
      return;
    }
    res.status(404).json({
      error: 'not_found',
      message: `no such route: ${prefix}${req.path}. The ${prefix} routes are: ${routes.map((route) => shown(route, prefix)).join(', ')}`,
    });
  };
}
