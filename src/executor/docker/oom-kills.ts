/**
 * How many processes of a running container the kernel's OOM killer has killed, read straight from
 * the container's memory cgroup. Needed when the runner survived (and sent its result) but one of its
 * children was killed: Docker only reports OOMKilled once the whole container has exited.
 * Best effort: 0 when the cgroup cannot be read (e.g. the server itself runs in a container).
 */
import { promises as fs } from 'node:fs';

const CANDIDATES = (id: string): string[] => [
  // cgroup v1, cgroupfs driver
  `/sys/fs/cgroup/memory/docker/${id}/memory.oom_control`,
  // cgroup v1, systemd driver
  `/sys/fs/cgroup/memory/system.slice/docker-${id}.scope/memory.oom_control`,
  // cgroup v2
  `/sys/fs/cgroup/system.slice/docker-${id}.scope/memory.events`,
  `/sys/fs/cgroup/docker/${id}/memory.events`,
];

export async function readOomKills(containerId: string): Promise<number> {
  if (!/^[0-9a-f]{64}$/.test(containerId)) return 0;
  for (const file of CANDIDATES(containerId)) {
    try {
      const match = /^oom_kill (\d+)$/m.exec(await fs.readFile(file, 'utf8'));
      return match?.[1] ? Number(match[1]) : 0;
    } catch {
      // not this layout: try the next
    }
  }
  return 0;
}
