/**
 * Whether the kernel's OOM killer struck inside one container, told by the Docker engine itself.
 *
 * The engine reports an `oom` event for every OOM kill in a container's memory cgroup: of the runner,
 * and of any child process while the runner lives on (a state Docker's `State.OOMKilled` cannot
 * express while the container runs). The events come over the Docker socket, so this works wherever
 * the server does, also when the server runs in a container and cannot see the host's cgroups.
 *
 * The engine handles one container's events in order, so its `oom` events always come before its
 * `die` on this stream: once `die` has arrived, the count is final. Subscribe before the container
 * starts; the subscription replays from just before it was asked for, so nothing falls in between.
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { z } from 'zod';

const ContainerEventSchema = z.object({ Action: z.string() });

/** What the watch knows once the container's death was reported (or the stream was lost before). */
export type OomVerdict = { readonly known: true; readonly oomKills: number } | { readonly known: false };

export class OomWatch {
  private oomKills = 0;
  private lateOom: (() => void) | null = null;
  private streamLost = false;
  private readonly verdict: Promise<OomVerdict>;

  private constructor(
    private readonly stream: Readable,
    private readonly abort: AbortController,
  ) {
    this.verdict = new Promise<OomVerdict>((resolve) => {
      const lines = createInterface({ input: stream, crlfDelay: Infinity });
      lines.on('line', (line) => {
        const parsed = safeJson(line);
        const event = ContainerEventSchema.safeParse(parsed);
        if (!event.success) return;
        if (event.data.Action === 'oom') {
          this.oomKills += 1;
          this.lateOom?.();
        }
        if (event.data.Action === 'die') resolve({ known: true, oomKills: this.oomKills });
      });
      // Ended or broken before `die`: whether an OOM kill was missed cannot be known from here.
      const lost = (): void => {
        if (!this.abort.signal.aborted) this.streamLost = true;
        resolve({ known: false });
      };
      lines.on('close', lost);
      stream.on('error', lost);
      // readline re-emits the input's error (a proxy or engine restart resets the connection); unheard, it ends the process.
      lines.on('error', lost);
    });
  }

  /** Subscribes to one container's `oom` and `die` events. Call it before starting the container. */
  static async start(docker: Docker, containerId: string): Promise<OomWatch> {
    const abort = new AbortController();
    // A second back: the engine may flush the answer's headers before it subscribes; `since`
    // replays what it logged in between. Only this container's oom and die can match.
    const since = Math.floor(Date.now() / 1000) - 1;
    const stream = (await docker.getEvents({
      since,
      filters: { type: ['container'], container: [containerId], event: ['oom', 'die'] },
      abortSignal: abort.signal,
    })) as unknown as Readable;
    return new OomWatch(stream, abort);
  }

  /** Resolves once the engine has reported the container's death, with the OOM kills before it. */
  afterDeath(): Promise<OomVerdict> {
    return this.verdict;
  }

  /**
   * After a death with no OOM kill reported, waits at most `graceMs` for an `oom` event that comes
   * after the `die`. Only for a container that died of SIGKILL by itself: under gVisor the kernel
   * kills the whole sandbox, and the engine can see its exit before the cgroup's OOM notice.
   */
  async lateOomKill(graceMs: number): Promise<boolean> {
    if (this.oomKills > 0) return true;
    if (this.abort.signal.aborted) return false;
    let timer: NodeJS.Timeout | undefined;
    const arrived = await new Promise<boolean>((resolve) => {
      this.lateOom = () => resolve(true);
      timer = setTimeout(() => resolve(false), graceMs);
    });
    clearTimeout(timer);
    this.lateOom = null;
    return arrived;
  }

  /** True once the event stream ended or broke without being closed here (the engine connection was lost). */
  get lost(): boolean {
    return this.streamLost;
  }

  /** Ends the subscription. Idempotent. */
  close(): void {
    if (this.abort.signal.aborted) return;
    this.abort.abort();
    this.stream.destroy();
  }
}

function safeJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return null;
  }
}
