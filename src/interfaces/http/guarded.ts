/**
 * Async route bodies with one place for their failures: whatever a body throws is handed to the
 * route family's `answer` (a JSON error for REST, a JSON-RPC error for MCP), never to Express.
 */
import type { Request, RequestHandler, Response } from 'express';

export type RouteBody = (req: Request, res: Response) => Promise<void>;
export type FailureAnswer = (req: Request, res: Response, error: unknown) => void;

/** Makes route handlers whose failures `answer` answers. */
export function guardedBy(answer: FailureAnswer): (body: RouteBody) => RequestHandler {
  return (body) => async (req, res) => {
    try {
      await body(req, res);
    } catch (error) {
      answer(req, res, error);
    }
  };
}
