/**
 * One McpServer per MCP session, acting for one principal. Every transport (Streamable HTTP,
 * legacy SSE, stdio) builds its servers here, so all of them offer the same tools with the same
 * behaviour.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Settings } from '../../config/settings.js';
import type { EngineApi } from '../../engine/types.js';
import type { FileService } from '../../files/file-service.js';
import type { Logger } from '../../logger.js';
import type { Principal } from '../../sessions/principal.js';
import { CODECELL_VERSION } from '../../package-version.js';
import { requestDownloadLink } from '../download-links.js';
import { serverInstructions } from './instructions.js';
import { registerExecutionTools } from './tools/execution-tools.js';
import { registerFileTools } from './tools/file-tools.js';
import { registerSessionTools } from './tools/session-tools.js';
import { registerSystemTools } from './tools/system-tools.js';

export interface McpServerDeps {
  readonly engine: EngineApi;
  readonly files: FileService;
  readonly principal: Principal;
  readonly settings: Settings;
  readonly logger: Logger;
}

export function createMcpServer(deps: McpServerDeps): McpServer {
  const server = new McpServer(
    { name: 'codecell', title: 'Codecell code interpreter', version: CODECELL_VERSION },
    { instructions: serverInstructions(deps.settings) },
  );
  const toolDeps = {
    engine: deps.engine,
    principal: deps.principal,
    settings: deps.settings,
    logger: deps.logger,
    downloadLink: requestDownloadLink(deps.files),
  };
  registerExecutionTools(server, toolDeps);
  registerSessionTools(server, toolDeps);
  registerSystemTools(server, toolDeps);
  registerFileTools(server, { files: deps.files, principal: deps.principal, logger: deps.logger });
  return server;
}
