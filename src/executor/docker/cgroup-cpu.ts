/**
 * CPU time a running container has used so far (every process in it: init, the runner, the user's
 * code), read straight from its cgroup. For the debug log and the benchmark: it separates what the
 * runtime itself costs from what Docker costs around it. Best effort: null when it cannot be read,
 * as always when the server runs in a container (the host's cgroups are out of its sight there).
 */
import { promises as fs } from 'node:fs';

const CANDIDATES = (id: string): Array<{ file: string; parse: (text: string) => number | null }> => [
  // cgroup v1 (cgroupfs, then systemd driver): nanoseconds
  { file: `/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.usage`, parse: nanoseconds },
  { file: `/sys/fs/cgroup/cpuacct/system.slice/docker-${id}.scope/cpuacct.usage`, parse: nanoseconds },
  // cgroup v2: usage_usec in cpu.stat
  { file: `/sys/fs/cgroup/system.slice/docker-${id}.scope/cpu.stat`, parse: usageUsec },
  { file: `/sys/fs/cgroup/docker/${id}/cpu.stat`, parse: usageUsec },
];

/** Milliseconds of CPU the container has used, or null. */
export async function readCpuMs(containerId: string): Promise<number | null> {
  if (!/^[0-9a-f]{64}$/.test(containerId)) return null;
  for (const { file, parse } of CANDIDATES(containerId)) {
    try {
      return parse(await fs.readFile(file, 'utf8'));
    } catch {
      // not this layout: try the next
    }
  }
  return null;
}

function nanoseconds(text: string): number | null {
  const value = Number(text.trim());
  return Number.isFinite(value) ? Math.round(value / 1e5) / 10 : null;
}

function usageUsec(text: string): number | null {
  const match = /^usage_usec (\d+)$/m.exec(text);
  return match?.[1] ? Math.round(Number(match[1]) / 100) / 10 : null;
}
