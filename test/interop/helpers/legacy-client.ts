/**
 * The older LibreChat client, `@librechat/agents` 3.0.50 (installed as librechat-agents-x-api-key):
 * its execute_code reads LIBRECHAT_CODE_API_KEY and sends it as X-API-Key, and reads
 * LIBRECHAT_CODE_BASEURL once, when the module loads. So import it only after the env is set.
 */
export interface LegacyOutcome {
  content: string;
  artifact: { session_id?: string; files?: Array<{ id: string; name: string }> } | undefined;
}

interface LegacyTool {
  invoke(call: { id: string; name: string; args: Record<string, unknown>; type: 'tool_call' }): Promise<{ content: unknown; artifact?: unknown }>;
}

export async function legacyCodeTool(userId: string): Promise<(args: { lang: string; code: string; session_id?: string }) => Promise<LegacyOutcome>> {
  const legacy = (await import('librechat-agents-x-api-key')) as unknown as { createCodeExecutionTool(params: { user_id: string }): LegacyTool };
  const tool = legacy.createCodeExecutionTool({ user_id: userId });
  let calls = 0;
  return async (args) => {
    calls += 1;
    const message = await tool.invoke({ id: `legacy_${calls}`, name: 'execute_code', args, type: 'tool_call' });
    return { content: String(message.content), artifact: message.artifact as LegacyOutcome['artifact'] };
  };
}
