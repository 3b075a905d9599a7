/** get_system_info: what the sandboxes actually hold, read from the images, and the limits in force. */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { LANGUAGES, ONE_SHOT_LANGUAGES } from '../../../domain/types.js';
import { type SystemInfo } from '../../../engine/types.js';
import { guardTool } from '../tool-errors.js';
import { toolLogger, type ToolDeps } from './tool-deps.js';

const SystemInfoOutputSchema = z.object({
  codecell_version: z.string(),
  executor: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('docker'), engine_version: z.string(), container_runtime: z.string() }),
    z.object({ kind: z.literal('process'), sandbox: z.string(), isolation: z.string() }),
  ]),
  languages: z.array(z.enum(LANGUAGES)),
  runtimes: z.array(
    z.object({
      runtime: z.enum(['python', 'node', 'bash']),
      image: z.string(),
      language_version: z.string(),
      packages: z.record(z.string(), z.string()),
    }),
  ),
  one_shot_languages: z
    .array(
      z.object({
        language: z.enum(ONE_SHOT_LANGUAGES),
        image: z.string(),
        installed: z.boolean(),
        version: z.string().nullable(),
      }),
    )
    .describe('Languages run one program per call (execute_code); installed: false means its image is not built here.'),
  limits: z.object({
    timeout_seconds: z.number(),
    max_output_chars: z.number(),
    memory_mb: z.number(),
    cpus: z.number(),
    pids_limit: z.number(),
    max_file_mb: z.number(),
    session_quota_mb: z.number(),
    max_images_per_run: z.number(),
    session_ttl_seconds: z.number(),
    max_sessions: z.number(),
    tmp_mb: z.number().nullable().describe('Size of /tmp, which is memory; null where /tmp is disk within the session quota.'),
  }),
  network: z.literal('none'),
  working_directory: z.literal('/mnt/data'),
});

function toOutput(info: SystemInfo): z.infer<typeof SystemInfoOutputSchema> {
  const { limits } = info;
  return {
    codecell_version: info.codecellVersion,
    executor:
      info.executor.kind === 'docker'
        ? { kind: 'docker', engine_version: info.executor.engineVersion, container_runtime: info.executor.containerRuntime }
        : { kind: 'process', sandbox: info.executor.sandbox, isolation: info.executor.isolation },
    languages: [...info.languages],
    runtimes: info.runtimes.map((runtime) => ({
      runtime: runtime.runtime,
      image: runtime.image,
      language_version: runtime.languageVersion,
      packages: { ...runtime.packages },
    })),
    one_shot_languages: info.oneShotLanguages.map((entry) => ({ ...entry })),
    limits: {
      timeout_seconds: limits.timeoutSeconds,
      max_output_chars: limits.maxOutputChars,
      memory_mb: limits.memoryMb,
      cpus: limits.cpus,
      pids_limit: limits.pidsLimit,
      max_file_mb: limits.maxFileMb,
      session_quota_mb: limits.sessionQuotaMb,
      max_images_per_run: limits.maxImagesPerRun,
      session_ttl_seconds: limits.sessionTtlSeconds,
      max_sessions: limits.maxSessions,
      tmp_mb: limits.tmpMb,
    },
    network: info.network,
    working_directory: info.workingDirectory,
  };
}

export function describeSystem(info: SystemInfo): string {
  const { limits } = info;
  const runtimes = info.runtimes.map((runtime) => {
    const packages = Object.entries(runtime.packages)
      .map(([name, version]) => `${name} ${version}`)
      .join(', ');
    return `- ${runtime.runtime} ${runtime.languageVersion} (${runtime.image})${packages ? `: ${packages}` : ''}`;
  });
  const oneShot = info.oneShotLanguages
    .map((entry) => `${entry.language} ${entry.installed ? (entry.version ?? '?') : '(not installed)'}`)
    .join(', ');
  return [
    `Codecell ${info.codecellVersion} · ${executorLine(info.executor)} · ` +
      `no network · working directory ${info.workingDirectory}`,
    `Languages: ${info.languages.join(', ')}`,
    ...runtimes,
    ...(oneShot === '' ? [] : [`One-shot (execute_code; one program per call, only files carry over): ${oneShot}`]),
    `Limits: ${limits.timeoutSeconds} s per call, ${limits.memoryMb} MiB memory, ${limits.cpus} CPU, ` +
      `${limits.maxOutputChars} characters of output per stream, ${limits.maxFileMb} MiB per file, ` +
      `${limits.sessionQuotaMb} MiB per session, ${limits.maxImagesPerRun} images per run` +
      (limits.tmpMb === null ? '. ' : `; /tmp holds ${limits.tmpMb} MiB in memory: large temporary files (SQLite sorts, TMPDIR) belong in ${info.workingDirectory}. `) +
      `Sessions are deleted after ${Math.round(limits.sessionTtlSeconds / 60)} minutes without use.`,
  ].join('\n');
}

function executorLine(executor: SystemInfo['executor']): string {
  return executor.kind === 'docker'
    ? `Docker ${executor.engineVersion} (${executor.containerRuntime})`
    : `sandboxed processes (${executor.isolation})`;
}

export function registerSystemTools(server: McpServer, deps: ToolDeps): void {
  server.registerTool(
    'get_system_info',
    {
      title: 'Show the sandbox’s languages, packages and limits',
      description:
        'Show the language versions and installed packages of the sandboxes, and the limits in force (time per ' +
        'call, memory, output size, file sizes, session expiry). Call it before relying on a package.',
      outputSchema: SystemInfoOutputSchema,
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    },
    (extra) =>
      guardTool(toolLogger(deps, 'get_system_info', extra), async () => {
        const info = await deps.engine.systemInfo();
        return { content: [{ type: 'text', text: describeSystem(info) }], structuredContent: toOutput(info) };
      }),
  );
}
