/**
 * What a container-create body may say when it passes the socket proxy: the shape
 * src/executor/docker/container-spec.ts gives every execution and probe container, and nothing
 * more. A path allowlist alone would let a compromised server create a privileged container with
 * the host's root bind-mounted; here unknown fields are refused (strict objects), and the fields
 * that hold the hardening must hold it: no privileges, all capabilities dropped, no-new-privileges,
 * a seccomp allow-list, no network, a read-only root, memory and pids limits, a non-root user,
 * host paths only under the data dir's slots/, only the configured execution images, and only the
 * configured runtime.
 */
import path from 'node:path';
import { z } from 'zod';

export interface CreatePolicy {
  /** CODECELL_DATA_DIR as the engine sees it: every bind source must lie below it. */
  readonly dataDir: string;
  /** CODECELL_IMAGE_PREFIX: images are <prefix>-<name>:latest. */
  readonly imagePrefix: string;
  /**
   * CODECELL_RUNTIME of the server: runsc makes `Runtime: runsc` mandatory (a compromised server
   * cannot drop gVisor); runc allows only runc or the engine's default.
   */
  readonly runtime: 'runc' | 'runsc';
}

const positiveInt = z.number().int().positive();
const strings = z.array(z.string());

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** A seccomp option must carry a profile that refuses by default (never `unconfined`). */
function securityOptIsSafe(option: string): boolean {
  if (option === 'no-new-privileges:true' || option === 'no-new-privileges') return true;
  if (!option.startsWith('seccomp=')) return false;
  try {
    const profile: unknown = JSON.parse(option.slice('seccomp='.length));
    if (typeof profile !== 'object' || profile === null) return false;
    const action = (profile as Record<string, unknown>)['defaultAction'];
    return action === 'SCMP_ACT_ERRNO' || action === 'SCMP_ACT_KILL' || action === 'SCMP_ACT_KILL_PROCESS';
  } catch {
    return false;
  }
}

/**
 * Where the executor mounts a slot (container-spec.ts): no bind may cover anything else of the
 * container (its /etc, /proc or /sys with files the server wrote).
 */
const BIND_TARGETS: ReadonlySet<string> = new Set(['/mnt/data', '/home/sandbox', '/run/codecell/in', '/run/codecell/out']);

/** `source:target[:ro|rw]` with source a normalised absolute path below <data dir>/slots/ (never the keys beside). */
function bindIsSafe(bind: string, dataDir: string): boolean {
  const parts = bind.split(':');
  if (parts.length < 2 || parts.length > 3) return false;
  const [source = '', target = '', mode] = parts;
  if (mode !== undefined && mode !== 'ro' && mode !== 'rw') return false;
  if (!BIND_TARGETS.has(target)) return false;
  if (!source.startsWith('/') || path.posix.normalize(source) !== source) return false;
  const slots = `${dataDir.replace(/\/+$/, '')}/slots/`;
  return source.startsWith(slots) && source.length > slots.length;
}

function hostConfigSchema(policy: CreatePolicy) {
  return z.strictObject({
    NetworkMode: z.literal('none'),
    ReadonlyRootfs: z.literal(true),
    CapDrop: strings.refine((caps) => caps.includes('ALL'), 'CapDrop must include ALL'),
    SecurityOpt: strings
      .refine((options) => options.some((option) => option.startsWith('no-new-privileges')), 'no-new-privileges is required')
      .refine((options) => options.every(securityOptIsSafe), 'only no-new-privileges and a default-deny seccomp profile'),
    Privileged: z.literal(false).optional(),
    Init: z.boolean().optional(),
    IpcMode: z.literal('private').optional(),
    CgroupnsMode: z.literal('private').optional(),
    Memory: positiveInt,
    MemorySwap: positiveInt,
    OomScoreAdj: z.number().int().min(0).max(1000).optional(),
    NanoCpus: positiveInt.optional(),
    PidsLimit: positiveInt,
    Ulimits: z.array(z.strictObject({ Name: z.string(), Soft: z.number().int(), Hard: z.number().int() })).optional(),
    Tmpfs: z.record(z.string().regex(/^\/[^:]*$/), z.string()).optional(),
    ShmSize: positiveInt.optional(),
    LogConfig: z.strictObject({ Type: z.literal('none'), Config: z.record(z.string(), z.string()) }).optional(),
    AutoRemove: z.boolean().optional(),
    Runtime: policy.runtime === 'runsc' ? z.literal('runsc', { message: 'Runtime must be runsc' }) : z.literal('runc').optional(),
    Binds: z
      .array(z.string())
      .refine((binds) => binds.every((bind) => bindIsSafe(bind, policy.dataDir)), `host paths only below ${policy.dataDir}/slots/`)
      .optional(),
  });
}

export function createBodySchema(policy: CreatePolicy) {
  const image = new RegExp(`^${escapeRegExp(policy.imagePrefix)}-[a-z0-9]+:latest$`);
  return z.strictObject({
    Image: z.string().regex(image, `only ${policy.imagePrefix}-<name>:latest images`),
    Env: strings.optional(),
    // Never root (uid 0), by number: a name could map to root inside the image.
    User: z.string().regex(/^[1-9][0-9]*(:[1-9][0-9]*)?$/, 'a numeric non-root uid[:gid]'),
    WorkingDir: z.string().optional(),
    // Only Codecell's own labels: others (com.docker.compose.*) would pass the container off as another service's.
    Labels: z
      .record(z.string().regex(/^codecell(\.[a-z0-9._-]+)?$/, 'only labels codecell and codecell.*'), z.string())
      .refine((labels) => labels['codecell'] === 'true', 'the label codecell=true is required'),
    AttachStdin: z.boolean().optional(),
    AttachStdout: z.boolean().optional(),
    AttachStderr: z.boolean().optional(),
    OpenStdin: z.boolean().optional(),
    StdinOnce: z.boolean().optional(),
    Tty: z.literal(false).optional(),
    NetworkDisabled: z.literal(true),
    StopTimeout: z.number().int().min(0).optional(),
    Entrypoint: strings.optional(),
    Cmd: strings.optional(),
    HostConfig: hostConfigSchema(policy),
  });
}

export type CreateVerdict = { readonly allowed: true } | { readonly allowed: false; readonly reason: string };

/** Checks one parsed create body; the reason names the first fields that broke the policy. */
export function checkCreateBody(body: unknown, policy: CreatePolicy): CreateVerdict {
  const result = createBodySchema(policy).safeParse(body);
  if (result.success) return { allowed: true };
  const reason = result.error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`)
    .join('; ');
  return { allowed: false, reason };
}
