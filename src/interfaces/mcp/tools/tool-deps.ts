/** What every Codecell tool module needs, and the per-call logger it logs under. */
import type { Settings } from '../../../config/settings.js';
import type { EngineApi } from '../../../engine/types.js';
import type { Logger } from '../../../logger.js';
import type { Principal } from '../../../sessions/principal.js';
import type { DownloadLink } from '../../download-links.js';
import { currentRequestId } from '../../http/request-context.js';
import type { ToolExtra } from '../progress.js';

export interface ToolDeps {
  readonly engine: EngineApi;
  /** Whose sessions the tools act on: fixed for the life of the MCP session. */
  readonly principal: Principal;
  readonly settings: Settings;
  readonly logger: Logger;
  /** A download link for a session's file in the answer to the request at hand, if links can be made. */
  readonly downloadLink: DownloadLink;
}

/** Child logger naming the tool, the MCP session, the HTTP request (if any) and the user. */
export function toolLogger(deps: ToolDeps, tool: string, extra: Pick<ToolExtra, 'sessionId'>): Logger {
  return deps.logger.child({
    tool,
    mcpSession: extra.sessionId,
    requestId: currentRequestId(),
    userId: deps.principal.userId ?? undefined,
  });
}
