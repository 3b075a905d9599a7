/**
 * Which isolation layer this machine gives the process executor, strongest first, probed once at
 * start: bubblewrap where unprivileged user namespaces work; else NO_NEW_PRIVS + Landlock + seccomp
 * (the launcher reports what the kernel and its Python allow); else nothing that confines code,
 * which runs only when CODECELL_ALLOW_WEAK_SANDBOX says so.
 */
import { execFile } from 'node:child_process';
import { readlink } from 'node:fs/promises';
import { promisify } from 'node:util';
import { z } from 'zod';
import { SLOT_FDS, type SandboxLayer } from './launch-spec.js';

const run = promisify(execFile);
const PROBE_TIMEOUT_MS = 10_000;

const LauncherProbeSchema = z.object({
  landlockAbi: z.number().int().min(0),
  seccomp: z.boolean(),
  noNewPrivs: z.boolean(),
  seccompError: z.string().optional(),
});
export type LauncherProbe = z.infer<typeof LauncherProbeSchema>;

export interface SandboxFindings {
  /** bubblewrap ran a command in new user, mount, pid, net, ipc and uts namespaces. */
  readonly bwrap: boolean;
  readonly bwrapError: string | null;
  /** null: the launcher itself could not run. */
  readonly launcher: LauncherProbe | null;
  readonly launcherError: string | null;
  /** Without namespaces the image must link the container paths to the slot's descriptors: what is wrong with those links. */
  readonly linkProblems: readonly string[];
}

export interface SandboxReport {
  /** The layer runs use; null: none that confines code, and weak sandboxes are not allowed (runs are refused). */
  readonly layer: SandboxLayer | null;
  readonly landlockAbi: number;
  readonly seccomp: boolean;
  readonly userNamespaces: boolean;
  /** Landlock ABI ≥ 4: no TCP bind or connect. */
  readonly tcpRules: boolean;
  /** Landlock ABI ≥ 6: no signals to, and no abstract sockets of, processes outside the sandbox. */
  readonly signalScoping: boolean;
  /** One line for the log, health and system info. */
  readonly summary: string;
}

/** Picks the strongest layer the findings allow (pure). */
export function chooseLayer(findings: SandboxFindings, allowWeak: boolean): SandboxReport {
  const abi = findings.launcher?.landlockAbi ?? 0;
  const seccomp = findings.launcher?.seccomp ?? false;
  const base = {
    landlockAbi: abi,
    seccomp,
    userNamespaces: findings.bwrap,
    tcpRules: abi >= 4,
    signalScoping: abi >= 6,
  };
  if (findings.bwrap && findings.launcher !== null) {
    return { ...base, layer: 'bwrap', summary: `bubblewrap (user, mount, pid, net, ipc, uts namespaces) + seccomp${seccomp ? '' : ' (unavailable)'} + rlimits` };
  }
  if (abi >= 1 && seccomp && findings.launcher?.noNewPrivs && findings.linkProblems.length === 0) {
    const missing = [abi < 4 ? 'no TCP rules (Landlock ABI < 4: loopback connects are stopped by seccomp only)' : null,
      abi < 6 ? 'no signal scoping (Landlock ABI < 6: code can signal processes of the same uid)' : null].filter((item) => item !== null);
    return {
      ...base,
      layer: 'landlock',
      summary: `NO_NEW_PRIVS + Landlock ABI ${abi} + seccomp + rlimits${missing.length > 0 ? `; ${missing.join('; ')}` : ''}`,
    };
  }
  const why = [
    findings.bwrap ? null : `bubblewrap: ${findings.bwrapError ?? 'unavailable'}`,
    findings.launcher === null ? `launcher: ${findings.launcherError ?? 'failed'}` : null,
    findings.launcher !== null && abi < 1 ? 'Landlock: not available in this kernel' : null,
    findings.launcher !== null && !seccomp ? `seccomp: ${findings.launcher.seccompError ?? 'python3-seccomp missing'}` : null,
    findings.linkProblems.length > 0 ? `the image's links: ${findings.linkProblems.join(', ')}` : null,
  ].filter((item) => item !== null).join('; ');
  if (findings.launcher !== null && allowWeak) {
    return { ...base, layer: 'weak', summary: `WEAK: rlimits only, code is NOT confined (CODECELL_ALLOW_WEAK_SANDBOX=true): ${why}` };
  }
  return { ...base, layer: null, summary: `no sandbox: ${why}; runs are refused (CODECELL_ALLOW_WEAK_SANDBOX=true runs them unconfined)` };
}

/** Probes bubblewrap and the launcher on this machine. */
export async function probeSandbox(launcher: string): Promise<SandboxFindings> {
  const [bwrap, launcherProbe, linkProblems] = await Promise.all([probeBwrap(), probeLauncher(launcher), probeLinks()]);
  return { ...bwrap, ...launcherProbe, linkProblems };
}

/** The container paths the runners use, and the descriptor each must link to (launch-spec.ts SLOT_FDS). */
export const SLOT_LINKS: ReadonlyArray<readonly [string, number]> = [
  ['/mnt/data', SLOT_FDS.data],
  ['/home/sandbox', SLOT_FDS.home],
  ['/run/codecell/in', SLOT_FDS.in],
  ['/run/codecell/out', SLOT_FDS.out],
  ['/run/codecell/artifacts', SLOT_FDS.artifacts],
  ['/tmp', SLOT_FDS.tmp],
];

async function probeLinks(): Promise<string[]> {
  const problems: string[] = [];
  for (const [where, fd] of SLOT_LINKS) {
    const target = await readlink(where).catch(() => null);
    if (target !== `/proc/self/fd/${fd}`) problems.push(`${where} is not a link to /proc/self/fd/${fd}`);
  }
  return problems;
}

async function probeBwrap(): Promise<Pick<SandboxFindings, 'bwrap' | 'bwrapError'>> {
  try {
    await run('bwrap', ['--unshare-all', '--die-with-parent', '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', '--', 'true'], {
      timeout: PROBE_TIMEOUT_MS,
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
    });
    return { bwrap: true, bwrapError: null };
  } catch (error) {
    return { bwrap: false, bwrapError: firstLine(error) };
  }
}

async function probeLauncher(launcher: string): Promise<Pick<SandboxFindings, 'launcher' | 'launcherError'>> {
  try {
    const { stdout } = await run('/usr/bin/python3', ['-I', '-S', launcher, 'probe'], { timeout: PROBE_TIMEOUT_MS, env: { PATH: '/usr/bin:/bin' } });
    return { launcher: LauncherProbeSchema.parse(JSON.parse(stdout)), launcherError: null };
  } catch (error) {
    return { launcher: null, launcherError: firstLine(error) };
  }
}

function firstLine(error: unknown): string {
  const stderr = typeof error === 'object' && error !== null && 'stderr' in error ? String(error.stderr).trim() : '';
  const text = stderr.length > 0 ? stderr : error instanceof Error ? error.message : String(error);
  return text.split('\n')[0]?.slice(0, 300) ?? '';
}
