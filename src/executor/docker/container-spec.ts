/**
 * The one place where an execution container's configuration is made. It is built from validated
 * settings and host paths the server chose — never from request input — and it is the hardening:
 * no network, read-only root, no capabilities, no new privileges, non-root user, an init process,
 * caps on memory (swap included), CPU, pids, open files, file size and tmpfs sizes.
 */
import type { ContainerCreateOptions } from 'dockerode';
import type { Settings } from '../../config/settings.js';
import type { PoolKey } from './pool-key.js';
import { imageFor, preloadFor } from './pool-key.js';

export const SANDBOX_UID = 10001;
export const CONTAINER_LABEL = 'codecell';
export const INSTANCE_LABEL = 'codecell.instance';
export const POOL_LABEL = 'codecell.pool';

export interface SlotMounts {
  readonly dataDir: string;
  readonly inDir: string;
  readonly outDir: string;
}

export function containerSpec(
  settings: Settings,
  instanceId: string,
  pool: PoolKey,
  slot: SlotMounts,
): ContainerCreateOptions {
  const { limits } = settings;
  return {
    Image: imageFor(settings, pool),
    Env: [
      'HOME=/tmp',
      'LANG=C.UTF-8',
      'PYTHONUNBUFFERED=1',
      'PYTHONDONTWRITEBYTECODE=1',
      `CODECELL_PRELOAD=${preloadFor(pool).join(',')}`,
    ],
    User: `${SANDBOX_UID}:${SANDBOX_UID}`,
    WorkingDir: '/mnt/data',
    Labels: { [CONTAINER_LABEL]: 'true', [INSTANCE_LABEL]: instanceId, [POOL_LABEL]: pool },
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    OpenStdin: true,
    StdinOnce: true,
    Tty: false,
    NetworkDisabled: true,
    StopTimeout: 1,
    HostConfig: {
      NetworkMode: 'none',
      ReadonlyRootfs: true,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges:true'],
      Privileged: false,
      Init: true,
      IpcMode: 'private',
      Memory: limits.memoryBytes,
      MemorySwap: limits.memoryBytes,
      NanoCpus: limits.nanoCpus,
      PidsLimit: limits.pidsLimit,
      Ulimits: [
        { Name: 'nofile', Soft: 1024, Hard: 1024 },
        // No single file may outgrow the session quota (the watchdog catches many small ones).
        { Name: 'fsize', Soft: limits.sessionQuotaBytes, Hard: limits.sessionQuotaBytes },
        { Name: 'core', Soft: 0, Hard: 0 },
      ],
      Tmpfs: {
        '/tmp': `rw,nosuid,nodev,size=${limits.tmpfsBytes},mode=1777`,
        '/run/codecell/artifacts': `rw,nosuid,nodev,size=${limits.artifactsBytes},mode=1777`,
      },
      Binds: [
        `${slot.dataDir}:/mnt/data:rw`,
        `${slot.inDir}:/run/codecell/in:ro`,
        `${slot.outDir}:/run/codecell/out:rw`,
      ],
      // Output is read over the attach stream; a log driver would copy floods to the host's disk.
      LogConfig: { Type: 'none', Config: {} },
      AutoRemove: false,
      ...(settings.docker.runtime === 'runsc' ? { Runtime: 'runsc' } : {}),
    },
  };
}
