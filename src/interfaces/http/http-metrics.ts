/**
 * Counts HTTP requests by route and status. The route label is one of a fixed list of path
 * prefixes, never the raw path: paths carry session and file ids, which would make the label
 * unbounded.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Metrics } from '../../metrics/metrics.js';

/** Longest prefixes first, so '/gradio_api/mcp/sse' wins over '/gradio_api/mcp'. */
export function routeLabel(path: string, knownPrefixes: readonly string[]): string {
  for (const prefix of knownPrefixes) {
    if (path === prefix || path.startsWith(`${prefix}/`)) return prefix;
  }
  return 'other';
}

export function httpMetrics(metrics: Metrics, knownPrefixes: readonly string[]): RequestHandler {
  const prefixes = [...knownPrefixes].sort((a, b) => b.length - a.length);
  return (req: Request, res: Response, next: NextFunction) => {
    const route = routeLabel(req.path, prefixes);
    res.on('close', () => metrics.httpRequests.inc({ route, code: String(res.statusCode) }));
    next();
  };
}
