/**
 * Imported first by main.ts: zod (inside the MCP SDK) would probe `new Function` to decide whether
 * to compile parsers, and the page's CSP (no 'unsafe-eval') reports that probe as a violation.
 * Jitless parsing needs no eval.
 */
import { config } from 'zod/v4/core';

config({ jitless: true });
